"""Home, explore, search, and a user's or organisation's page."""

from __future__ import annotations

from starlette.responses import Response

from dockyard.hub.records import RepositoryOrdering
from dockyard.web.context import WebRequest, page
from dockyard.web.pages.common import cursor

EXPLORE_ORDERINGS: dict[str, tuple[RepositoryOrdering, str]] = {
    "pulls": ("-pulls", "Most pulled"),
    "stars": ("-stars", "Most starred"),
    "updated": ("-last_pushed", "Recently updated"),
    "name": ("name", "Name"),
}


@page
async def home(web: WebRequest) -> Response:
    mine = None
    if web.viewer is not None:
        mine = await web.hub.namespace_repositories(web.viewer, web.viewer.username, page_size=10)
    popular = await web.hub.search(web.viewer, "", ordering="-pulls", page_size=10)
    return web.render("explore/home.html", mine=mine, popular=popular)


@page
async def explore(web: WebRequest) -> Response:
    sort = web.param("sort", "pulls")
    ordering = EXPLORE_ORDERINGS.get(sort, EXPLORE_ORDERINGS["pulls"])[0]
    results = await web.hub.search(
        web.viewer, "", ordering=ordering, page=web.int_param("page"), page_size=25, cursor=cursor(web)
    )
    return web.render(
        "explore/explore.html",
        results=results,
        sort=sort if sort in EXPLORE_ORDERINGS else "pulls",
        orderings=[(key, label) for key, (_, label) in EXPLORE_ORDERINGS.items()],
    )


@page
async def search(web: WebRequest) -> Response:
    query = web.param("q").strip()
    results = await web.hub.search(
        web.viewer, query, page=web.int_param("page"), page_size=25, cursor=cursor(web)
    )
    return web.render("explore/search.html", query=query, results=results)


@page
async def namespace(web: WebRequest) -> Response:
    info = await web.hub.namespace(web.path("namespace"))
    sort = web.param("sort", "updated")
    ordering = EXPLORE_ORDERINGS.get(sort, EXPLORE_ORDERINGS["updated"])[0]
    repositories = await web.hub.namespace_repositories(
        web.viewer, info.name, page=web.int_param("page"), page_size=25, ordering=ordering, cursor=cursor(web)
    )
    writable = info.name in await web.hub.writable_namespaces(web.viewer)
    return web.render(
        "explore/namespace.html",
        namespace=info,
        repositories=repositories,
        writable=writable,
        usage=await web.hub.namespace_quota(web.viewer, info.name) if writable else None,
        tab="repositories",
    )
