"""Request parsing shared by the handlers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from dockyard.peers import client_ip
from dockyard.registry.caller import caller_of
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.records import Actor
from dockyard.registry.reference import canonical_name
from dockyard.registry.service import Registry

MAX_PAGE = 10_000


def registry(request: Request) -> Registry:
    reg: Registry = request.app.state.registry
    return reg


def actor(request: Request) -> str | None:
    """The authenticated username behind the request, if any (set by the auth layer)."""
    caller = caller_of(request.scope)
    return caller.username if caller is not None else None


def change_actor(request: Request) -> Actor:
    """Who makes this change, as its events record it: the account and the client's address."""
    return Actor(actor(request), client_ip(request.scope))


def repository(request: Request) -> str:
    """The canonical repository name (official images under library/)."""
    return canonical_name(request.path_params["name"])


def content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.isdigit():
        raise RegistryError(
            ErrorCode.SIZE_INVALID, {"content_length": value}, message="invalid Content-Length"
        )
    return int(value)


async def body_stream(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise RegistryError(
            ErrorCode.SIZE_INVALID, message="client disconnected before the body ended"
        ) from None


async def read_limited(request: Request, limit: int) -> bytes:
    """Read a small body (a manifest), refusing more than ``limit`` bytes."""
    declared = content_length(request)
    if declared is not None and declared > limit:
        raise _too_big(limit)
    parts: list[bytes] = []
    total = 0
    async for chunk in body_stream(request):
        total += len(chunk)
        if total > limit:
            raise _too_big(limit)
        parts.append(chunk)
    return b"".join(parts)


def _too_big(limit: int) -> RegistryError:
    return RegistryError(
        ErrorCode.MANIFEST_TOO_BIG, {"limit": limit}, message=f"manifest larger than {limit} bytes"
    )


def pagination(request: Request) -> tuple[int | None, str | None]:
    n = request.query_params.get("n")
    last = request.query_params.get("last")
    if n is None or n == "":
        return None, last
    if not n.isdigit():
        raise RegistryError(ErrorCode.PAGINATION_NUMBER_INVALID, {"n": n})
    return min(int(n), MAX_PAGE), last


def next_link(request: Request, limit: int | None, last: str | None) -> dict[str, str]:
    if limit is None or last is None:
        return {}
    from urllib.parse import urlencode

    query = urlencode({"n": limit, "last": last})
    return {"Link": f'<{request.url.path}?{query}>; rel="next"'}


_CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?$")


def content_range(request: Request) -> tuple[int, int] | None:
    value = request.headers.get("content-range")
    if value is None:
        return None
    match = _CONTENT_RANGE.match(value.strip())
    if not match or int(match[2]) < int(match[1]):
        raise RegistryError(
            ErrorCode.RANGE_INVALID, {"content_range": value}, message="invalid Content-Range"
        )
    return int(match[1]), int(match[2])


def empty(status: int, headers: dict[str, str]) -> Response:
    return Response(status_code=status, headers={"Content-Length": "0", **headers})
