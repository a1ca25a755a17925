"""Create a repository; the repository page, its star button, the Tags page and tag deletion."""

from __future__ import annotations

from typing import cast
from urllib.parse import urlencode

from starlette.responses import Response

from dockyard.accounts.errors import AccountError, RateLimited
from dockyard.hub.records import TagOrdering
from dockyard.web.context import WebRequest, page
from dockyard.web.pages.common import private_choice, repository_name, repository_url, require_viewer

TAG_SORTS: dict[str, tuple[str, str]] = {
    "newest": ("-last_pushed", "Newest"),
    "oldest": ("last_pushed", "Oldest"),
    "name": ("name", "Name (A-Z)"),
    "-name": ("-name", "Name (Z-A)"),
}


@page
async def create(web: WebRequest) -> Response:
    require_viewer(web)
    namespaces = await web.hub.writable_namespaces(web.viewer)
    if web.request.method == "GET":
        values = {
            "namespace": web.param("namespace", namespaces[0] if namespaces else ""),
            "visibility": "public",
        }
        return web.render("repositories/create.html", namespaces=namespaces, values=values, error=None)
    fields = ("namespace", "name", "description", "full_description", "visibility")
    values = {name: await web.field(name) for name in fields}
    try:
        detail = await web.hub.create_repository(
            web.viewer,
            values["namespace"],
            values["name"],
            description=values["description"],
            full_description=values["full_description"],
            private=private_choice(values["visibility"]),
        )
    except RateLimited:
        raise  # the page wrapper answers 429 with Retry-After
    except AccountError as error:
        return web.render(
            "repositories/create.html", status=400, namespaces=namespaces, values=values, error=error.message
        )
    return web.redirect(repository_url(detail.name))


@page
async def repository(web: WebRequest) -> Response:
    detail = await web.hub.repository(web.viewer, repository_name(web))
    recent = await web.hub.tags(web.viewer, detail.name, page_size=5)
    return web.render("repositories/repository.html", repo=detail, recent=recent, tab="overview")


@page
async def star(web: WebRequest) -> Response:
    name = repository_name(web)
    await web.hub.star(web.viewer, name, starred=await web.field("action") != "unstar")
    return web.redirect(repository_url(name))


@page
async def tags(web: WebRequest) -> Response:
    detail = await web.hub.repository(web.viewer, repository_name(web))
    sort = web.param("sort", "newest")
    if sort not in TAG_SORTS:
        sort = "newest"
    contains = web.param("name").strip()
    found = await web.hub.tags(
        web.viewer,
        detail.name,
        ordering=cast(TagOrdering, TAG_SORTS[sort][0]),
        contains=contains,
        page=web.int_param("page"),
        page_size=25,
    )
    return web.render(
        "repositories/tags.html",
        repo=detail,
        tags=found,
        sort=sort,
        sorts=[(key, label) for key, (_, label) in TAG_SORTS.items()],
        contains=contains,
        deleted=web.param("deleted"),
        tab="tags",
    )


@page
async def delete_tag(web: WebRequest) -> Response:
    name, tag = repository_name(web), web.path("tag")
    await web.hub.delete_tag(web.viewer, name, tag)
    return web.redirect(f"{repository_url(name)}/tags?{urlencode({'deleted': tag})}")
