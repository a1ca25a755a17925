"""Docker Hub's pages: ``{count, next, previous, results}`` with absolute ``next``/``previous`` URLs
that keep every other query parameter, and ``{"detail": "Invalid page."}`` past the last page.

The listings the database pages (repositories, search, tags) put an opaque ``cursor`` beside
``page`` in their links: ``?page=3&page_size=25&cursor=...``. A request with a cursor seeks to it
(keyset pagination, ``db/keyset.py``); ``page`` is then the number shown, not an offset. A request
with ``page`` alone (a jump, an older link) is the fallback: OFFSET. A cursor that is not one of
the listing's own is a 400; a followed cursor is never "past the last page"."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request

from dockyard.db.keyset import MAX_CURSOR
from dockyard.hub.records import Page
from dockyard.web.api.errors import NotFound

T = TypeVar("T")
R = TypeVar("R")

Cursor = Annotated[
    str | None,
    Query(max_length=MAX_CURSOR, description="where the page starts: pass on the one in next/previous"),
]


def base_url(request: Request, public_url: str) -> str:
    """The server's external base URL: the configured one, else from the request."""
    if public_url:
        return public_url
    return f"{request.url.scheme}://{request.url.netloc}"


def page_url(request: Request, public_url: str, page: int, cursor: str | None = None) -> str:
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "cursor")]
    query = urlencode([*kept, ("page", str(page)), *([("cursor", cursor)] if cursor else [])])
    return f"{base_url(request, public_url)}{request.url.path}?{query}"


def check_page(page: int, count: int, page_size: int) -> None:
    """Past the last page is 404, as Docker Hub (Django REST framework) answers it."""
    last = max(1, -(-count // page_size))
    if page > last:
        raise NotFound("Invalid page.")


def paginate(request: Request, public_url: str, page: Page[T], convert: Callable[[T], R]) -> dict[str, Any]:
    if not page.followed:
        check_page(page.page, page.count, page.page_size)
    after = page_url(request, public_url, page.page + 1, page.next_cursor) if page.has_next else None
    before = page_url(request, public_url, page.page - 1, page.previous_cursor) if page.has_previous else None
    return {
        "count": page.count,
        "next": after,
        "previous": before,
        "results": [convert(item) for item in page.items],
    }


def slice_page(items: Sequence[T], page: int, page_size: int) -> Page[T]:
    """A page of an in-memory list (access tokens, webhooks: a user has few)."""
    start = (page - 1) * page_size
    return Page(list(items[start : start + page_size]), len(items), page, page_size)
