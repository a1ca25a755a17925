"""Descriptions are Markdown rendered to HTML that cannot run script, whatever their author wrote."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from dockyard.hub.markdown import TAGS, render, sanitize

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    "<svg onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<iframe src="https://evil.example"></iframe>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    '[x](https://ok.example "title" onmouseover="alert(1)")',
    "<details open ontoggle=alert(1)>",
    '<a href="https://ok.example" onclick="alert(1)">x</a>',
    "<form action=https://evil.example><input name=q></form>",
    "<style>body{display:none}</style>",
    "<!-- <script>alert(1)</script> -->",
]


class Elements(HTMLParser):
    """Every element and attribute of an HTML fragment, as a browser would see them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {name: value or "" for name, value in attrs}))


def assert_harmless(html: str) -> None:
    for tag, attrs in Elements(html).found:
        assert tag in TAGS, f"<{tag}> in {html!r}"
        for name, value in attrs.items():
            assert not name.startswith("on") and name != "style", f"{name}= on <{tag}> in {html!r}"
            if name in ("href", "src"):
                scheme = urlsplit(value.strip()).scheme.lower()
                assert scheme in ("", "http", "https", "mailto"), f"{name}={value!r} in {html!r}"


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_markdown_renders_harmless(source: str) -> None:
    assert_harmless(render(source))


@pytest.mark.parametrize("source", HOSTILE)
def test_the_sanitizer_alone_also_stops_raw_html(source: str) -> None:
    """Second layer: even HTML that reached the sanitizer directly loses every active part."""
    assert_harmless(sanitize(source))


def test_safe_links_keep_their_target_and_get_rel() -> None:
    html = sanitize('<a href="https://ok.example" onclick="alert(1)">x</a>')
    assert html == '<a href="https://ok.example" rel="nofollow noopener noreferrer">x</a>'


def test_raw_html_is_shown_as_text() -> None:
    assert render("<b>bold</b> and <script>x()</script>") == (
        "<p>&lt;b&gt;bold&lt;/b&gt; and &lt;script&gt;x()&lt;/script&gt;</p>\n"
    )


def test_ordinary_markdown_survives() -> None:
    html = render(
        "# Title\n\nSome *em*, **strong**, `code`, ~~gone~~.\n\n"
        "```python\nprint('hi')\n```\n\n"
        "- [site](https://example.com) and [mail](mailto:a@example.com) and [relative](/r/a/b)\n\n"
        "![logo](https://example.com/logo.png)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    assert "<h1>Title</h1>" in html
    assert "<em>em</em>" in html and "<strong>strong</strong>" in html and "<code>code</code>" in html
    assert "<s>gone</s>" in html
    assert '<code class="language-python">' in html
    assert '<a href="https://example.com" rel="nofollow noopener noreferrer">site</a>' in html
    assert 'href="mailto:a@example.com"' in html and 'href="/r/a/b"' in html
    assert '<img src="https://example.com/logo.png" alt="logo">' in html
    assert "<table>" in html and "<td>1</td>" in html


def test_headings_can_be_demoted_under_the_page_heading() -> None:
    assert render("# A\n\n## B\n\n###### F", demote=1) == "<h2>A</h2>\n<h3>B</h3>\n<h6>F</h6>\n"


def test_empty_descriptions_render_empty() -> None:
    assert render("") == "" and render("  \n ") == ""
