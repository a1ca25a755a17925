"""Search: Docker Hub's ``/v2/search/repositories`` and the v1 endpoints ``docker search`` uses.

``docker search HOST/term`` is run by the engine, which pings ``GET /v1/_ping`` (HTTPS first, then
plain HTTP for an insecure registry) and asks ``GET /v1/search?q=term&n=25``, decoding
``{num_pages, num_results, results: [{name, description, star_count, is_official, is_automated}],
page_size, query, page}``. The engine sends the credentials of ``docker login HOST`` with it: Basic
credentials, or a registry bearer token when it holds an identity token; both work here, and a
signed-in search also finds the private repositories the account may pull.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from dockyard.accounts.records import Principal
from dockyard.auth.tokens import InvalidToken
from dockyard.peers import client_ip
from dockyard.web.api import present, schemas
from dockyard.web.api.deps import Context, Ctx, PageNumber, PageSize, Viewer
from dockyard.web.api.errors import Unauthorized, responses
from dockyard.web.api.pagination import Cursor, paginate
from dockyard.web.api.routing import alias
from dockyard.web.api.tokens import InvalidHubToken
from dockyard.web.api.users import authenticate

router = APIRouter(tags=["search"])

SearchText = Annotated[str, Query(max_length=100, description="text in the name or short description")]


class SearchPage(schemas.Paginated[schemas.SearchResult]):
    pass


@alias(router.get, "/v2/search/repositories", response_model=SearchPage, responses=responses(400, 401, 404))
async def search_repositories(
    request: Request,
    ctx: Ctx,
    caller: Viewer,
    query: SearchText = "",
    page: PageNumber = 1,
    page_size: PageSize = 25,
    cursor: Cursor = None,
) -> SearchPage:
    """Repositories the caller may pull whose name or short description contains ``query``."""
    found = await ctx.hub.search(caller, query, page=page, page_size=page_size, cursor=cursor)
    return SearchPage(**paginate(request, ctx.settings.public_url, found, present.search_result))


@router.get("/v1/_ping", tags=["docker search"], responses={200: {"content": {"application/json": {}}}})
async def ping() -> Response:
    """What the engine probes before a search: the v1 index answers here."""
    headers = {"X-Docker-Registry-Version": "0.6.0", "X-Docker-Registry-Standalone": "true"}
    return Response(b"true", media_type="application/json", headers=headers)


@router.get(
    "/v1/search",
    tags=["docker search"],
    response_model=schemas.V1SearchResponse,
    responses=responses(400, 401, 429),
)
async def v1_search(
    request: Request,
    ctx: Ctx,
    q: SearchText = "",
    n: Annotated[int, Query(ge=1, le=100, description="results per page")] = 25,
    page: PageNumber = 1,
) -> schemas.V1SearchResponse:
    caller = await _v1_caller(request, ctx)
    found = await ctx.hub.search(caller, q, page=page, page_size=n)
    return schemas.V1SearchResponse(
        num_pages=found.pages,
        num_results=found.count,
        results=[present.v1_search_result(r) for r in found.items],
        page_size=found.page_size,
        query=q,
        page=found.page,
    )


async def _v1_caller(request: Request, ctx: Context) -> Principal | None:
    """Basic credentials, a hub token or a registry token; none is an anonymous search."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        username, secret = _basic(value)
        return await authenticate(ctx, username, secret, client_ip(request))
    if scheme.lower() in ("bearer", "jwt") and value:
        try:
            identity = ctx.tokens.verify(value)
        except InvalidHubToken:
            try:
                return (await ctx.auth.verify(value)).account
            except InvalidToken:
                raise Unauthorized("invalid or expired token") from None
        principal = await ctx.accounts.principal_for(
            identity.username, token_id=identity.token_id, version=identity.version
        )
        if principal is None or principal.user_id != identity.user_id:
            raise Unauthorized("the account or access token behind this token is gone")
        return principal
    raise Unauthorized("unsupported Authorization scheme")


def _basic(value: str) -> tuple[str, str]:
    try:
        username, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Unauthorized("malformed Authorization header") from None
    if not sep:
        raise Unauthorized("malformed Authorization header")
    return username, secret
