"""Create a repository; the repository page with its README editor, its star button, the Tags page
(tag deletion, one or many), and the image page of a digest.

    GET  …/readme/edit         the README in an editor with a preview (admins of the repository)
    POST …/readme              save it; with ``preview`` set, show the preview instead (no script)
    POST …/readme/preview      the rendered, sanitised HTML of the text sent (the live preview)
    POST …/tags/delete         delete the tags ticked on the Tags page
    GET  …/images/{digest}     an image or index: platforms, layers, config, referrers
"""

from __future__ import annotations

from typing import cast

from starlette.responses import HTMLResponse, Response

from dockyard.accounts.errors import AccountError, RateLimited
from dockyard.hub import markdown
from dockyard.hub.errors import PermissionDenied
from dockyard.hub.records import RepositoryDetail, TagOrdering
from dockyard.web.context import WebRequest, page
from dockyard.web.pages.common import cursor, private_choice, repository_name, repository_url, require_viewer

TAG_SORTS: dict[str, tuple[str, str]] = {
    "newest": ("-last_pushed", "Newest"),
    "oldest": ("last_pushed", "Oldest"),
    "name": ("name", "Name (A-Z)"),
    "-name": ("-name", "Name (Z-A)"),
}
PAGE_SIZES = (10, 25, 50, 100)
MAX_BULK = 100


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
    default_tag = await web.hub.default_tag(web.viewer, detail.name) if recent.items else None
    return web.render(
        "repositories/repository.html", repo=detail, recent=recent, default_tag=default_tag, tab="overview"
    )


async def _editable(web: WebRequest) -> RepositoryDetail:
    detail = await web.hub.repository(web.viewer, repository_name(web))
    if not detail.can_admin:
        raise PermissionDenied("only administrators of this repository can edit its README")
    return detail


@page
async def edit_readme(web: WebRequest) -> Response:
    detail = await _editable(web)
    text = detail.full_description
    return web.render(
        "repositories/readme.html", repo=detail, text=text, preview=None, error=None, tab="overview"
    )


@page
async def save_readme(web: WebRequest) -> Response:
    detail = await _editable(web)
    text = await web.field("full_description")
    if await web.field("preview"):
        return web.render(
            "repositories/readme.html", repo=detail, text=text, preview=text, error=None, tab="overview"
        )
    try:
        await web.hub.update_repository(web.viewer, detail.name, full_description=text)
    except AccountError as error:
        if isinstance(error, PermissionDenied):
            raise
        return web.render(
            "repositories/readme.html", status=400, repo=detail, text=text, preview=None,
            error=error.message, tab="overview",
        )  # fmt: skip
    return web.redirect(repository_url(detail.name), notice="README saved.")


@page
async def preview_readme(web: WebRequest) -> Response:
    """The live preview: the same rendering and sanitising the Overview uses, nothing saved."""
    await _editable(web)
    html = markdown.render(await web.field("full_description"), demote=1)
    return HTMLResponse(html or '<p class="empty">Nothing to preview yet.</p>')


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
    size = web.int_param("size", 25)
    if size not in PAGE_SIZES:
        size = 25
    contains = web.param("name").strip()
    found = await web.hub.tags(
        web.viewer,
        detail.name,
        ordering=cast(TagOrdering, TAG_SORTS[sort][0]),
        contains=contains,
        page=web.int_param("page"),
        page_size=size,
        cursor=cursor(web),
    )
    return web.render(
        "repositories/tags.html",
        repo=detail,
        tags=found,
        sort=sort,
        sorts=[(key, label) for key, (_, label) in TAG_SORTS.items()],
        contains=contains,
        size=size,
        sizes=PAGE_SIZES,
        params={
            "name": contains,
            "sort": sort if sort != "newest" else "",
            "size": size if size != 25 else "",
        },
        tab="tags",
    )


@page
async def delete_tag(web: WebRequest) -> Response:
    name, tag = repository_name(web), web.path("tag")
    await web.hub.delete_tag(web.viewer, name, tag)
    return web.redirect(f"{repository_url(name)}/tags", notice=f"Tag {tag} was deleted.")


@page
async def delete_tags(web: WebRequest) -> Response:
    """The Tags page's bulk delete: the ticked tags, up to ``MAX_BULK`` at once."""
    name = repository_name(web)
    chosen = [str(t) for t in (await web.form()).getlist("tag")][:MAX_BULK]
    back = f"{repository_url(name)}/tags"
    if not chosen:
        await web.hub.tags(web.viewer, name, page_size=1)  # a hidden repository stays a 404
        return web.redirect(back, error="Tick the tags to delete first.")
    deleted = await web.hub.delete_tags(web.viewer, name, chosen)
    listed = ", ".join(deleted[:10]) + (" …" if len(deleted) > 10 else "")
    noun = "tag" if len(deleted) == 1 else "tags"
    return web.redirect(
        back, notice=f"Deleted {len(deleted)} {noun}: {listed}." if deleted else "No tag deleted."
    )


@page
async def image(web: WebRequest) -> Response:
    detail = await web.hub.repository(web.viewer, repository_name(web))
    found = await web.hub.image(web.viewer, detail.name, web.path("digest"))
    return web.render("repositories/image.html", repo=detail, image=found, tag=web.param("tag"), tab="tags")
