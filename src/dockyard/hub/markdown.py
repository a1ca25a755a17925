"""Repository descriptions: Markdown in, HTML that is safe to put in a page out.

Two layers, so one mistake is not enough: markdown-it-py renders CommonMark, and of the raw HTML
in the source only ``<details>`` (or ``<details open>``), ``<summary>`` and their closing tags pass
as HTML, written out by us, never copied (READMEs fold long sections that way); every other tag
comes out as text, and comments are dropped. Then nh3 (ammonia) keeps only the tags and attributes
below, only http, https and mailto links, and stamps every link with
``rel="nofollow noopener noreferrer"``. Event handlers, ``style``, ``javascript:`` and ``data:``
URLs never survive.
"""

from __future__ import annotations

import functools
import html
import re

import nh3
from markdown_it import MarkdownIt

TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "del", "details", "em", "h1", "h2", "h3", "h4",
        "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "summary", "sup",
        "table", "tbody", "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},  # language-xxx from fenced blocks
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
    "details": {"open"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener noreferrer"
MAX_SOURCE = 200_000  # characters rendered; a longer description is cut, not refused
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_PIECES = re.compile(r"(<[^<>]*>)")
_FOLDING = {  # the raw HTML let through, as we write it: lowercase, no other attribute
    "<details>": "<details>",
    "<details open>": "<details open>",
    "</details>": "</details>",
    "<summary>": "<summary>",
    "</summary>": "</summary>",
}


@functools.cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


def render(source: str, *, demote: int = 0) -> str:
    """Safe HTML for a Markdown description (empty for an empty one). ``demote`` moves headings
    down (1: ``#`` becomes h2), so a description never competes with the page's own h1."""
    if not source.strip():
        return ""
    parser = _parser()
    tokens = parser.parse(source[:MAX_SOURCE])
    for token in tokens:
        if demote and token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + demote)}"
        elif token.type == "html_block":
            token.content = folding_only(token.content)
        for child in token.children or ():
            if child.type == "html_inline":
                child.content = folding_only(child.content)
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


def folding_only(raw: str) -> str:
    """Raw HTML from the source with only the folding tags kept as HTML; everything else escaped."""
    pieces = _PIECES.split(_COMMENT.sub("", raw))
    out = []
    for piece in pieces:
        folded = _FOLDING.get(" ".join(piece.lower().split()).replace("< ", "<").replace(" >", ">"))
        out.append(folded if folded is not None else html.escape(piece, quote=False))
    return "".join(out)
