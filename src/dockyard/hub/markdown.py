"""Repository descriptions: Markdown in, HTML that is safe to put in a page out.

Two layers, so one mistake is not enough: markdown-it-py renders CommonMark with raw HTML
disabled (a ``<script>`` in the source comes out as text), then nh3 (ammonia) keeps only the
tags and attributes below, only http, https and mailto links, and stamps every link with
``rel="nofollow noopener noreferrer"``. Event handlers, ``style``, ``javascript:`` and ``data:``
URLs never survive.
"""

from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt

TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td",
        "th", "thead", "tr", "ul",
    }
)  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},  # language-xxx from fenced blocks
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener noreferrer"
MAX_SOURCE = 200_000  # characters rendered; a longer description is cut, not refused


@functools.cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


def render(source: str, *, demote: int = 0) -> str:
    """Safe HTML for a Markdown description (empty for an empty one). ``demote`` moves headings
    down (1: ``#`` becomes h2), so a description never competes with the page's own h1."""
    if not source.strip():
        return ""
    parser = _parser()
    tokens = parser.parse(source[:MAX_SOURCE])
    if demote:
        for token in tokens:
            if token.type in ("heading_open", "heading_close"):
                token.tag = f"h{min(6, int(token.tag[1]) + demote)}"
    html = parser.renderer.render(tokens, parser.options, {})
    return sanitize(html)


def sanitize(html: str) -> str:
    """Keep the allowlisted tags, attributes and URL schemes; drop everything else."""
    return nh3.clean(
        html,
        tags=set(TAGS),
        attributes={tag: set(attrs) for tag, attrs in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
