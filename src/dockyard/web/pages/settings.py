"""Repository settings, in tabs as on Docker Hub; administrators of the repository only.

    GET …/settings                       General: descriptions, visibility (and the build source)
    GET …/settings/collaborators         Collaborators (personal) or Teams (organisations)
    GET …/settings/webhooks              webhooks, adding one, recent deliveries
    GET …/settings/webhooks/deliveries/{id}   one delivery: its payload and every attempt
    GET …/settings/builds                the git source and its build rules (pages/builds.py posts)
    GET …/settings/policies              immutable tags, retention and its preview (pages/policies.py posts)
    GET …/settings/danger                delete the repository

Every form posts to its own action and answers with a redirect back to its tab (a secret shown
once travels in the flash); a refused form shows its tab again with the error and what was typed.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from dockyard.accounts.errors import AccountError, InvalidInput
from dockyard.hub.errors import PermissionDenied
from dockyard.hub.records import RepositoryDetail
from dockyard.web.context import WebRequest, page
from dockyard.web.pages.build_link import link_view
from dockyard.web.pages.collaborator_view import collaborators_context
from dockyard.web.pages.common import private_choice, repository_name, repository_url
from dockyard.web.pages.policy_view import policies_context

PERMISSION_CHOICES = [("", "No access"), ("read", "Read"), ("write", "Read & write"), ("admin", "Admin")]
TABS = ("general", "collaborators", "webhooks", "builds", "policies", "danger")


async def _admin_detail(web: WebRequest) -> RepositoryDetail:
    detail = await web.hub.repository(web.viewer, repository_name(web))
    if not detail.can_admin:
        raise PermissionDenied("only administrators of this repository can change its settings")
    return detail


async def settings_page(
    web: WebRequest, status: int = 200, *, tab: str = "general", **context: Any
) -> Response:
    """One tab of the settings page (the builds forms come back to theirs too)."""
    detail = await _admin_detail(web)
    context["is_org"] = await web.app.accounts.get_org(detail.summary.namespace) is not None
    if tab == "collaborators":
        context["teams"] = await web.hub.team_access(web.viewer, detail.name)
        context["permission_choices"] = PERMISSION_CHOICES
        context.update(await collaborators_context(web, detail))
    elif tab == "webhooks":
        context["webhooks"] = await web.hub.webhooks(web.viewer, detail.name)
        context["deliveries"] = await web.hub.deliveries(web.viewer, detail.name, limit=25)
    elif tab == "policies":
        context.update(await policies_context(web, detail))
    elif tab in ("builds", "general"):
        context.setdefault("build_link", await link_view(web, detail.name))
    return web.render(
        f"repositories/settings/{tab}.html",
        status=status,
        repo=detail,
        tab="settings",
        settings_tab=tab,
        base=f"{repository_url(detail.name)}/settings",
        errors=context.pop("errors", {}),
        **context,
    )


def _tab(name: str) -> Any:
    @page
    async def show(web: WebRequest) -> Response:
        return await settings_page(web, tab=name)

    show.__name__ = f"settings_{name}"
    return show


general, collaborators, webhooks, builds, policies, danger = (_tab(name) for name in TABS)


def _back(name: str, tab: str = "") -> str:
    return f"{repository_url(name)}/settings{'/' + tab if tab else ''}"


def _refused(error: AccountError) -> None:
    if isinstance(error, PermissionDenied):
        raise error


@page
async def save_description(web: WebRequest) -> Response:
    name = repository_name(web)
    description, full = await web.field("description"), await web.field("full_description")
    try:
        await web.hub.update_repository(web.viewer, name, description=description, full_description=full)
    except AccountError as error:
        _refused(error)
        return await settings_page(web, 400, errors={"description": error.message})
    return web.redirect(_back(name), notice="Description saved.")


@page
async def save_visibility(web: WebRequest) -> Response:
    name = repository_name(web)
    private = private_choice(await web.field("visibility"))
    if private is None:
        raise InvalidInput("visibility is public or private")
    await web.hub.update_repository(web.viewer, name, private=private)
    return web.redirect(_back(name), notice=f"The repository is {'private' if private else 'public'} now.")


@page
async def save_permission(web: WebRequest) -> Response:
    name = repository_name(web)
    team, permission = await web.field("team"), await web.field("permission")
    try:
        await web.hub.set_team_access(web.viewer, name, team, permission or None)
    except AccountError as error:
        _refused(error)
        return await settings_page(web, 400, tab="collaborators", errors={"permissions": error.message})
    return web.redirect(_back(name, "collaborators"), notice=f"Permission of team {team} saved.")


@page
async def add_webhook(web: WebRequest) -> Response:
    name = repository_name(web)
    values = {field: await web.field(field) for field in ("hook_name", "url", "secret")}
    try:
        hook = await web.hub.add_webhook(
            web.viewer, name, values["hook_name"], values["url"], values["secret"]
        )
    except AccountError as error:
        _refused(error)
        typed = {"hook_name": values["hook_name"], "url": values["url"]}  # never the secret
        return await settings_page(
            web, 400, tab="webhooks", errors={"webhooks": error.message}, hook_values=typed
        )
    return web.redirect(_back(name, "webhooks"), created_hook={"name": hook.name, "secret": hook.secret})


@page
async def remove_webhook(web: WebRequest) -> Response:
    name = repository_name(web)
    await web.hub.remove_webhook(web.viewer, name, int(web.path("hook_id")))
    return web.redirect(_back(name, "webhooks"), notice="Webhook removed.")


@page
async def test_webhook(web: WebRequest) -> Response:
    name = repository_name(web)
    delivery_id = await web.hub.test_webhook(web.viewer, name, int(web.path("hook_id")))
    return web.redirect(
        f"{_back(name, 'webhooks')}/deliveries/{delivery_id}",
        notice="Test delivery queued: it is sent within a few seconds.",
    )


@page
async def delivery(web: WebRequest) -> Response:
    detail = await _admin_detail(web)
    found = await web.hub.delivery(web.viewer, detail.name, int(web.path("delivery_id")))
    return web.render(
        "repositories/settings/delivery.html",
        repo=detail,
        found=found,
        is_org=await web.app.accounts.get_org(detail.summary.namespace) is not None,
        tab="settings",
        settings_tab="webhooks",
        base=f"{repository_url(detail.name)}/settings",
    )


@page
async def redeliver(web: WebRequest) -> Response:
    name = repository_name(web)
    delivery_id = await web.hub.redeliver(web.viewer, name, int(web.path("delivery_id")))
    return web.redirect(f"{_back(name, 'webhooks')}/deliveries/{delivery_id}", notice="Redelivery queued.")


@page
async def delete_repository(web: WebRequest) -> Response:
    name = repository_name(web)
    typed = (await web.field("confirm")).strip()
    if typed != name:
        await _admin_detail(web)
        message = f"Type {name} exactly to confirm; nothing was deleted."
        return await settings_page(web, 400, tab="danger", errors={"delete": message})
    await web.hub.delete_repository(web.viewer, name)
    namespace = name.split("/", 1)[0]
    target = "/" if namespace == "library" else f"/u/{namespace}"
    return web.redirect(target, notice=f"Repository {name} was deleted.")
