from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dockyard.registry.handlers.common import next_link, pagination, registry


async def version_check(request: Request) -> Response:
    return JSONResponse({})


async def catalog(request: Request) -> Response:
    limit, last = pagination(request)
    page = await registry(request).store.catalog(limit, last)
    return JSONResponse({"repositories": page.items}, headers=next_link(request, limit, page.last))
