"""Site administration pages, for site administrators (hub/admin.py; anyone else gets the 404).

GET  /admin                              -> /admin/users
GET  /admin/users?q=&page=               users, searched by name, email or full name
POST /admin/users/{name}/disable|enable|make-admin|remove-admin
GET  /admin/audit?kind=&actor=&target=&since=&until=&before=
GET  /admin/storage?page=                bytes and repositories per namespace, and their quotas
POST /admin/storage/quota                set (a size: 10GB, 512MiB) or remove (empty) a quota
GET  /admin/settings                     sign-up open or closed
POST /admin/settings/signup
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import Response

from dockyard.accounts.errors import AccountError
from dockyard.hub.admin import as_filter, require_admin
from dockyard.hub.errors import NotFound
from dockyard.registry.quotas import human, parse_size
from dockyard.web.context import WebRequest, page
from dockyard.web.pages.common import cursor

PAGE_SIZE = 50
AUDIT_PAGE = 100
USER_ACTIONS = {
    "disable": ("disabled", True),
    "enable": ("enabled", False),
    "make-admin": ("now an administrator", True),
    "remove-admin": ("no longer an administrator", False),
}


@page
async def index(web: WebRequest) -> Response:
    require_admin(web.viewer)
    return web.redirect("/admin/users")


@page
async def users(web: WebRequest) -> Response:
    searched = web.param("q").strip()
    found = await web.hub.admin.users(web.viewer, searched, web.int_param("page"), PAGE_SIZE, cursor(web))
    return web.render("admin/users.html", users=found, searched=searched, tab="users")


@page
async def user_action(web: WebRequest) -> Response:
    name, action = web.path("username"), web.path("action")
    if action not in USER_ACTIONS:
        raise NotFound(f"no action {action!r}")
    said, value = USER_ACTIONS[action]
    query = await web.field("q")
    back = f"/admin/users?{urlencode({'q': query})}" if query else "/admin/users"
    try:
        if action in ("disable", "enable"):
            await web.hub.admin.set_disabled(web.viewer, name, value)
        else:
            await web.hub.admin.set_admin(web.viewer, name, value)
    except AccountError as error:
        require_admin(web.viewer)  # others learn nothing from the message
        return web.redirect(back, error=error.message)
    return web.redirect(back, notice=f"{name} is {said}.")


@page
async def audit(web: WebRequest) -> Response:
    values = {name: web.param(name) for name in ("kind", "actor", "target", "since", "until")}
    error = None
    try:
        filters = as_filter(values)
    except AccountError as failed:
        require_admin(web.viewer)
        filters, error = as_filter({}), failed.message
    before = web.int_param("before", 0) or None
    found = await web.hub.admin.audit(web.viewer, filters, before, AUDIT_PAGE)
    kinds = await web.hub.admin.event_kinds(web.viewer)
    return web.render(
        "admin/audit.html",
        status=400 if error else 200,
        found=found,
        values=values,
        filters=filters,
        kinds=kinds,
        error=error,
        first_page=before is None,
        tab="audit",
    )


@page
async def storage(web: WebRequest) -> Response:
    usage = await web.hub.admin.storage(web.viewer, web.int_param("page"), PAGE_SIZE)
    names = [row.namespace for row in usage.namespaces.items]
    limits = await web.hub.registry.uploads.quotas.limits(names)
    return web.render("admin/storage.html", usage=usage, limits=limits, tab="storage")


@page
async def save_quota(web: WebRequest) -> Response:
    namespace, text = (await web.field("namespace")).strip(), (await web.field("limit")).strip()
    require_admin(web.viewer)
    try:
        limit = parse_size(text) if text else None
    except ValueError as error:
        return web.redirect("/admin/storage", error=str(error))
    await web.hub.set_namespace_quota(web.viewer, namespace, limit)
    said = f"Quota of {namespace} " + ("removed." if limit is None else f"set to {human(limit)}.")
    return web.redirect("/admin/storage", notice=said)


@page
async def site_settings(web: WebRequest) -> Response:
    require_admin(web.viewer)
    signup, chosen = await web.hub.site.signup_state(fresh=True)
    return web.render(
        "admin/settings.html",
        signup=signup,
        chosen=chosen,
        default=web.app.settings.signup,
        tab="settings",
    )


@page
async def save_signup(web: WebRequest) -> Response:
    value = await web.field("signup")
    await web.hub.site.set_signup(web.viewer, value)
    return web.redirect("/admin/settings", notice=f"Sign-up is {value}.")
