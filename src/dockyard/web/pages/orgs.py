"""Organisation pages: your organisations, a new one, its members, teams, a team, settings.

    /orgs                             the viewer's organisations
    /orgs/new                         create one (the viewer becomes its owner)
    /orgs/NAME/members                members and roles; owners add, change roles, remove
    /orgs/NAME/teams                  teams; owners create them
    /orgs/NAME/teams/TEAM             members and repository permissions; owners change them
    /orgs/NAME/settings               owners: default visibility, delete with typed confirmation

Who sees and does what is decided by OrgAdmin (accounts/roles.py). Every form posts to its own
action and answers with a redirect back to its page (``?saved=...``); a form the service refuses
re-renders the page with the error beside the form (status 400), keeping what was typed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode

from starlette.responses import Response

from dockyard.accounts.errors import AccountError, InvalidInput, PermissionDenied
from dockyard.accounts.policy import MANAGE, PERMISSIONS
from dockyard.accounts.roles import OrgAdmin, OrgView
from dockyard.web.context import WebRequest, page
from dockyard.web.pages.common import require_viewer

ROLE_CHOICES = [("member", "Member"), ("owner", "Owner")]
PERMISSION_LABELS = {"read": "Read", "write": "Read & write", "admin": "Admin"}

PageAgain = Callable[..., Awaitable[Response]]  # (web, status, errors=..., **kept) -> the page


def _orgs(web: WebRequest) -> OrgAdmin:
    return OrgAdmin(web.app.accounts)


def _org(web: WebRequest) -> str:
    return web.path("org")


def _url(org: str, *parts: str) -> str:
    return "/".join([f"/orgs/{org}", *(quote(part, safe="") for part in parts)])


async def _attempt(
    web: WebRequest, action: Awaitable[object], form: str, target: str, again: PageAgain, **kept: Any
) -> Response:
    """Run a form's action: redirect to ``target`` when it worked, else show the page ``again``
    with the error beside ``form`` (and ``kept``, what was typed). PermissionDenied is no form
    error: the page wrapper answers it (log in, or 403)."""
    try:
        await action
    except PermissionDenied:
        raise
    except AccountError as error:
        return await again(web, 400, errors={form: error.message}, **kept)
    return web.redirect(target)


def _saved(target: str, what: str) -> str:
    return f"{target}?{urlencode({'saved': what})}"


def _render(web: WebRequest, template: str, view: OrgView, tab: str, status: int, **context: Any) -> Response:
    return web.render(
        f"orgs/{template}",
        status=status,
        org=view,
        tab=tab,
        errors=context.pop("errors", {}),
        saved=web.param("saved"),
        **context,
    )


# -- your organisations, a new one ---------------------------------------------------------------------


@page
async def index(web: WebRequest) -> Response:
    require_viewer(web)
    assert web.viewer is not None
    return web.render(
        "orgs/index.html", orgs=await _orgs(web).orgs_of(web.viewer), deleted=web.param("deleted")
    )


@page
async def create(web: WebRequest) -> Response:
    require_viewer(web)
    if web.request.method == "GET":
        return web.render("orgs/new.html", name="", error=None)
    name = (await web.field("name")).strip()
    visibility = await web.field("visibility", "public")
    try:
        if visibility not in ("public", "private"):
            raise InvalidInput("default visibility is public or private")
        created = await _orgs(web).create(web.viewer, name)
        if visibility == "private":
            await _orgs(web).set_default_private(web.viewer, created.name, True)
    except PermissionDenied:
        raise
    except AccountError as error:
        return web.render("orgs/new.html", status=400, name=name, error=error.message)
    return web.redirect(_url(created.name, "members"))


@page
async def overview(web: WebRequest) -> Response:
    return web.redirect(_url(_org(web), "members"))


# -- members -------------------------------------------------------------------------------------------


async def _members_page(web: WebRequest, status: int = 200, **context: Any) -> Response:
    view = await _orgs(web).view(web.viewer, _org(web))
    found = await _orgs(web).members(web.viewer, view.name)
    return _render(web, "members.html", view, "members", status, members=found, roles=ROLE_CHOICES, **context)


@page
async def members(web: WebRequest) -> Response:
    return await _members_page(web)


@page
async def add_member(web: WebRequest) -> Response:
    org = _org(web)
    values = {"username": (await web.field("username")).strip(), "role": await web.field("role", "member")}
    action = _orgs(web).add_member(web.viewer, org, values["username"], values["role"])
    return await _attempt(
        web, action, "add", _saved(_url(org, "members"), "added"), _members_page, values=values
    )


@page
async def set_role(web: WebRequest) -> Response:
    org, username = _org(web), web.path("username")
    action = _orgs(web).set_role(web.viewer, org, username, await web.field("role"))
    return await _attempt(web, action, "members", _saved(_url(org, "members"), "role"), _members_page)


@page
async def remove_member(web: WebRequest) -> Response:
    org, username = _org(web), web.path("username")
    leaving = web.viewer is not None and web.viewer.username == username
    target = f"/orgs?{urlencode({'left': org})}" if leaving else _saved(_url(org, "members"), "removed")
    return await _attempt(
        web, _orgs(web).remove_member(web.viewer, org, username), "members", target, _members_page
    )


# -- teams ---------------------------------------------------------------------------------------------


async def _teams_page(web: WebRequest, status: int = 200, **context: Any) -> Response:
    view = await _orgs(web).view(web.viewer, _org(web))
    found = await _orgs(web).teams(web.viewer, view.name)
    return _render(web, "teams.html", view, "teams", status, teams=found, **context)


@page
async def teams(web: WebRequest) -> Response:
    return await _teams_page(web)


@page
async def create_team(web: WebRequest) -> Response:
    org = _org(web)
    values = {"name": (await web.field("name")).strip(), "description": await web.field("description")}
    action = _orgs(web).create_team(web.viewer, org, values["name"], values["description"])
    return await _attempt(
        web, action, "create", _url(org, "teams", values["name"]), _teams_page, values=values
    )


async def _team_page(web: WebRequest, status: int = 200, **context: Any) -> Response:
    view = await _orgs(web).view(web.viewer, _org(web))
    found = await _orgs(web).team(web.viewer, view.name, web.path("team"))
    repositories = await _orgs(web).repositories(web.viewer, view.name) if MANAGE in view.actions else []
    return _render(
        web,
        "team.html",
        view,
        "teams",
        status,
        team=found.team,
        grants=found.permissions,
        repositories=[r.name for r in repositories],
        permissions=[(p, PERMISSION_LABELS[p]) for p in PERMISSIONS],
        **context,
    )


@page
async def team(web: WebRequest) -> Response:
    return await _team_page(web)


def _team_url(web: WebRequest, name: str | None = None) -> str:
    return _url(_org(web), "teams", name or web.path("team"))


@page
async def add_team_member(web: WebRequest) -> Response:
    username = (await web.field("username")).strip()
    action = _orgs(web).add_team_member(web.viewer, _org(web), web.path("team"), username)
    return await _attempt(
        web, action, "members", _saved(_team_url(web), "members"), _team_page, username=username
    )


@page
async def remove_team_member(web: WebRequest) -> Response:
    action = _orgs(web).remove_team_member(web.viewer, _org(web), web.path("team"), web.path("username"))
    return await _attempt(web, action, "members", _saved(_team_url(web), "members"), _team_page)


@page
async def set_team_permission(web: WebRequest) -> Response:
    repository, permission = await web.field("repository"), await web.field("permission")
    action = _orgs(web).set_team_permission(
        web.viewer, _org(web), web.path("team"), repository, permission or None
    )
    return await _attempt(web, action, "permissions", _saved(_team_url(web), "permissions"), _team_page)


@page
async def edit_team(web: WebRequest) -> Response:
    name, description = (await web.field("name")).strip(), await web.field("description")
    action = _orgs(web).update_team(
        web.viewer, _org(web), web.path("team"), name=name, description=description
    )
    return await _attempt(web, action, "edit", _saved(_team_url(web, name or None), "edit"), _team_page)


@page
async def delete_team(web: WebRequest) -> Response:
    org, name = _org(web), web.path("team")
    target = f"{_url(org, 'teams')}?{urlencode({'deleted': name})}"
    return await _attempt(web, _orgs(web).delete_team(web.viewer, org, name), "delete", target, _team_page)


# -- settings ------------------------------------------------------------------------------------------


async def _settings_page(web: WebRequest, status: int = 200, **context: Any) -> Response:
    view = await _orgs(web).view(web.viewer, _org(web), MANAGE)
    held = await web.app.accounts.list_repositories(view.name)
    return _render(web, "settings.html", view, "settings", status, repository_count=len(held), **context)


@page
async def settings(web: WebRequest) -> Response:
    return await _settings_page(web)


@page
async def save_visibility(web: WebRequest) -> Response:
    org, visibility = _org(web), await web.field("visibility")

    async def save() -> None:
        if visibility not in ("public", "private"):
            raise InvalidInput("default visibility is public or private")
        await _orgs(web).set_default_private(web.viewer, org, visibility == "private")

    return await _attempt(
        web, save(), "visibility", _saved(_url(org, "settings"), "visibility"), _settings_page
    )


@page
async def delete_org(web: WebRequest) -> Response:
    org = _org(web)
    typed = (await web.field("confirm")).strip()

    async def delete() -> None:
        await _orgs(web).view(web.viewer, org, MANAGE)  # 403 before any talk of confirmation
        if typed != org:
            raise InvalidInput(f"Type {org} exactly to confirm; nothing was deleted.")
        await _orgs(web).delete(web.viewer, org)

    return await _attempt(web, delete(), "delete", f"/orgs?{urlencode({'deleted': org})}", _settings_page)
