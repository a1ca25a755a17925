"""The administrators' page of proxy namespaces (``dockyard proxy``, the pull-through cache):

GET  /admin/proxies                    each proxy namespace: upstream, visibility, TTL, cached bytes
                                       and size limit, hits and misses, last upstream check
POST /admin/proxies                    add one (namespace, upstream URL, optional login, TTL,
                                       private, instance mirror, size limit)
POST /admin/proxies/{namespace}/limit  set (a size: 20GB, 512MiB) or remove (empty) its size limit
POST /admin/proxies/{namespace}/remove stop proxying it

Site administrators only (anyone else gets the 404 of every admin page); the service checks the
input, as for the CLI and the JSON API. A refused add shows the form again with its error and
what was typed (never the password); the row forms go back to the page with a notice or error.
"""

from __future__ import annotations

from starlette.responses import Response

from dockyard.hub.admin import require_admin
from dockyard.hub.errors import NotFound
from dockyard.proxy.records import (
    DEFAULT_TTL_SECONDS,
    MIRROR_NAMESPACE,
    Credentials,
    ProxyConfig,
    ProxyError,
    parse_size,
)
from dockyard.proxy.service import ProxyService
from dockyard.registry.quotas import human
from dockyard.web.context import WebRequest, page

PAGE = "/admin/proxies"
ADD_FIELDS = ("namespace", "upstream_url", "username", "ttl_seconds", "size_limit", "private", "mirror")


def _service(web: WebRequest) -> ProxyService:
    require_admin(web.viewer)
    if web.app.proxy is None:
        raise NotFound("no such page")
    return web.app.proxy


async def _render(
    web: WebRequest, service: ProxyService, typed: dict[str, str] | None = None, error: str | None = None
) -> Response:
    """The page; with ``error``, the refused add form again (400) with what was typed."""
    found = await service.list(usage=True)
    typed = typed or {"ttl_seconds": str(DEFAULT_TTL_SECONDS)}
    status = 400 if error else 200
    return web.render("admin/proxies.html", status, proxies=found, typed=typed, error=error, tab="proxies")


@page
async def index(web: WebRequest) -> Response:
    return await _render(web, _service(web))


@page
async def add(web: WebRequest) -> Response:
    service = _service(web)
    typed = {name: (await web.field(name)).strip() for name in ADD_FIELDS}
    try:
        config = await _add(service, typed, await web.field("password"))
    except ProxyError as refused:
        return await _render(web, service, typed, refused.message)
    return web.redirect(PAGE, notice=_added(config))


async def _add(service: ProxyService, typed: dict[str, str], password: str) -> ProxyConfig:
    ttl = typed["ttl_seconds"] or str(DEFAULT_TTL_SECONDS)
    if not ttl.isdigit() or len(ttl) > 9:
        raise ProxyError("the TTL is a whole number of seconds")
    mirror = typed["mirror"] == "on"
    credentials = None
    if typed["username"] or password:
        credentials = Credentials(typed["username"], password)
    return await service.add(
        typed["namespace"] or (MIRROR_NAMESPACE if mirror else ""),
        typed["upstream_url"],
        credentials=credentials,
        ttl_seconds=int(ttl),
        private=typed["private"] == "on",
        mirror=mirror,
        size_limit=parse_size(typed["size_limit"]) if typed["size_limit"] else None,
    )


def _added(config: ProxyConfig) -> str:
    if config.is_mirror:
        return f"Instance mirror of {config.upstream_url}, cached under {config.namespace}/."
    return f"Proxy namespace {config.namespace} pulls through {config.upstream_url}."


@page
async def set_limit(web: WebRequest) -> Response:
    service, namespace = _service(web), web.path("namespace")
    text = (await web.field("size_limit")).strip()
    try:
        limit = parse_size(text) if text else None
        await service.set_limit(namespace, limit)
    except ProxyError as refused:
        return web.redirect(PAGE, error=refused.message)
    shown = "no size limit" if limit is None else f"a size limit of {human(limit)}"
    return web.redirect(PAGE, notice=f"Proxy namespace {namespace} has {shown}.")


@page
async def remove(web: WebRequest) -> Response:
    service, namespace = _service(web), web.path("namespace")
    try:
        left = await service.remove(namespace)
    except ProxyError as refused:
        return web.redirect(PAGE, error=refused.message)
    tail = f"; its {left} cached repositories stay, for administrators" if left else ""
    return web.redirect(PAGE, notice=f"Removed proxy namespace {namespace}{tail}.")
