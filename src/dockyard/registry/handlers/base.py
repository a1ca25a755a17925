from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dockyard.registry.caller import caller_of
from dockyard.registry.handlers.common import next_link, pagination, registry
from dockyard.registry.records import Page


async def version_check(request: Request) -> Response:
    return JSONResponse({})


async def catalog(request: Request) -> Response:
    limit, last = pagination(request)
    caller = caller_of(request.scope)
    if caller is None:  # an open registry (auth = "none"): everything is visible
        page = await registry(request).store.catalog(limit, last)
    else:
        page = Page(*await caller.catalog(limit, last))
    return JSONResponse({"repositories": page.items}, headers=next_link(request, limit, page.last))
