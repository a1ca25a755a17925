"""The administrators' page of proxy namespaces (``dockyard proxy``, the pull-through cache):

GET  /admin/proxies     each proxy namespace: upstream, visibility, TTL, cached bytes and size
                        limit, hits and misses, last upstream check
"""

from __future__ import annotations

from starlette.responses import Response

from dockyard.hub.admin import require_admin
from dockyard.hub.errors import NotFound
from dockyard.web.context import WebRequest, page


@page
async def index(web: WebRequest) -> Response:
    require_admin(web.viewer)
    if web.app.proxy is None:
        raise NotFound("no such page")
    found = await web.app.proxy.list(usage=True)
    return web.render("admin/proxies.html", proxies=found, tab="proxies")
