"""READMEs fold sections with <details> and quote with >, as on GitHub and Docker Hub; every other
piece of raw HTML still comes out as text, and nothing that runs script gets through."""

from __future__ import annotations

import pytest

from dockyard.hub.markdown import folding_only, render
from tests.hub.test_markdown import Elements


def test_details_and_summary_fold_a_section_with_markdown_inside() -> None:
    html = render("<details>\n<summary>More</summary>\n\nHidden *text*\n\n</details>\n")
    assert "<details>" in html and "<summary>More</summary>" in html
    assert "<em>text</em>" in html and "</details>" in html


def test_details_may_start_open() -> None:
    assert "<details open" in render("<details open>\n<summary>x</summary>\n\ny\n\n</details>\n")


def test_blockquotes_render() -> None:
    html = render("> quoted **bold**\n> second line\n")
    assert html.startswith("<blockquote>") and "<strong>bold</strong>" in html


@pytest.mark.parametrize(
    "source",
    [
        "<details ontoggle=alert(1) open>\n<summary>x</summary>\n</details>",
        '<details><summary onclick="alert(1)">x</summary></details>',
        "<details><script>alert(1)</script></details>",
        "<summary><img src=x onerror=alert(1)></summary>",
        "<DETAILS style=x>",
        "<details/open>",
    ],
)
def test_attributes_and_other_tags_never_pass(source: str) -> None:
    for tag, attrs in Elements(render(source)).found:
        assert tag in ("details", "summary", "p"), (tag, source)
        assert set(attrs) <= {"open"}, (tag, attrs, source)


def test_comments_are_dropped_and_other_tags_are_text() -> None:
    assert folding_only("<!-- hidden --><b>x</b>") == "&lt;b&gt;x&lt;/b&gt;"
    assert folding_only("<!-- never closed <script>") == ""
    assert folding_only("<Details >") == "<details>"
