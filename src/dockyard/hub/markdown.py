"""Repository descriptions: Markdown in, HTML that is safe to put in a page out.

Two layers, so one mistake is not enough: markdown-it-py renders CommonMark with raw HTML
disabled (a ``<script>`` in the source comes out as text), then nh3 (ammonia) keeps only the
tags and attributes below, only http, https and mailto links, and stamps every link with
``rel="nofollow noopener noreferrer"``. Event handlers, ``style``, ``javascript:`` and ``data:``
URLs never survive.

One exception to "raw HTML is text", because READMEs fold long sections that way: a line that
starts with ``<details>`` (or ``<details open>``), ``</details>``, ``<summary>`` or ``</summary>``
is a block of its own in which exactly those tags are written out as HTML, by us, never copied;
anything else on the line (other tags, attributes, text) is escaped and comments are dropped.
Everything between such lines is Markdown as usual.
"""

from __future__ import annotations

import functools
import html
import re
from typing import TYPE_CHECKING

import nh3

if TYPE_CHECKING:  # imported by the first render: a server that renders none never pays ~40 ms
    from markdown_it import MarkdownIt
    from markdown_it.rules_block import StateBlock

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
_FOLD_LINE = re.compile(r"\s{0,3}</?(?:details|summary)[\s>]", re.IGNORECASE)
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
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    parser.block.ruler.before(
        "html_block", "folding", _folding_line, {"alt": ["paragraph", "reference", "blockquote"]}
    )
    return parser


def _folding_line(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """A line that opens or closes a folded section becomes an HTML block of folding tags only."""
    begin = state.bMarks[start] + state.tShift[start]
    line = state.src[state.bMarks[start] : state.eMarks[start]]
    if state.sCount[start] - state.blkIndent >= 4 or not _FOLD_LINE.match(line):
        return False
    if silent:
        return True
    token = state.push("html_block", "", 0)
    token.content = folding_only(state.src[begin : state.eMarks[start]]) + "\n"
    token.map = [start, start + 1]
    state.line = start + 1
    return True


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


def folding_only(raw: str) -> str:
    """Raw HTML from the source with only the folding tags kept as HTML; everything else escaped."""
    pieces = _PIECES.split(_COMMENT.sub("", raw))
    out = []
    for piece in pieces:
        folded = _FOLDING.get(" ".join(piece.lower().split()).replace("< ", "<").replace(" >", ">"))
        out.append(folded if folded is not None else html.escape(piece, quote=False))
    return "".join(out)
