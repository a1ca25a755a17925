from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dockyard.registry.handlers.common import next_link, pagination, registry, repository


async def list_tags(request: Request) -> Response:
    name = repository(request)
    limit, last = pagination(request)
    page = await registry(request).tags(name, limit, last)
    body = {"name": request.path_params["name"], "tags": page.items}
    return JSONResponse(body, headers=next_link(request, limit, page.last))
