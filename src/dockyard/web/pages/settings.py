"""Repository settings: descriptions, visibility, team permissions or collaborators, webhooks, deletion.

Every form posts to its own action and comes back to the settings page; a failed form re-renders
the page with its error next to it (``errors[section]``), keeping what was typed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from dockyard.accounts.errors import AccountError, InvalidInput
from dockyard.hub.errors import PermissionDenied
from dockyard.web.context import WebRequest, page
from dockyard.web.pages.build_link import link_view
from dockyard.web.pages.collaborator_view import collaborators_context
from dockyard.web.pages.common import private_choice, repository_name, repository_url

PERMISSION_CHOICES = [("", "No access"), ("read", "Read"), ("write", "Read & write"), ("admin", "Admin")]


async def _settings_page(web: WebRequest, status: int = 200, **context: Any) -> Response:
    detail = await web.hub.repository(web.viewer, repository_name(web))
    if not detail.can_admin:
        raise PermissionDenied("only administrators of this repository can change its settings")
    return web.render(
        "repositories/settings.html",
        status=status,
        repo=detail,
        teams=await web.hub.team_access(web.viewer, detail.name),
        permission_choices=PERMISSION_CHOICES,
        **await collaborators_context(web, detail),
        webhooks=await web.hub.webhooks(web.viewer, detail.name),
        deliveries=await web.hub.deliveries(web.viewer, detail.name, limit=25),
        build_link=context.pop("build_link", None) or await link_view(web, detail.name),
        tab="settings",
        errors=context.pop("errors", {}),
        saved=context.pop("saved", web.param("saved")),
        **context,
    )


settings_page = _settings_page  # the builds section's forms come back here too


@page
async def settings(web: WebRequest) -> Response:
    return await _settings_page(web)


def _back(name: str, section: str) -> str:
    return f"{repository_url(name)}/settings?saved={section}#{section}"


@page
async def save_description(web: WebRequest) -> Response:
    name = repository_name(web)
    description, full = await web.field("description"), await web.field("full_description")
    try:
        await web.hub.update_repository(web.viewer, name, description=description, full_description=full)
    except AccountError as error:
        if isinstance(error, PermissionDenied):
            raise
        return await _settings_page(web, 400, errors={"description": error.message})
    return web.redirect(_back(name, "description"))


@page
async def save_visibility(web: WebRequest) -> Response:
    name = repository_name(web)
    private = private_choice(await web.field("visibility"))
    if private is None:
        raise InvalidInput("visibility is public or private")
    await web.hub.update_repository(web.viewer, name, private=private)
    return web.redirect(_back(name, "visibility"))


@page
async def save_permission(web: WebRequest) -> Response:
    name = repository_name(web)
    team, permission = await web.field("team"), await web.field("permission")
    try:
        await web.hub.set_team_access(web.viewer, name, team, permission or None)
    except AccountError as error:
        if isinstance(error, PermissionDenied):
            raise
        return await _settings_page(web, 400, errors={"permissions": error.message})
    return web.redirect(_back(name, "permissions"))


@page
async def add_webhook(web: WebRequest) -> Response:
    name = repository_name(web)
    values = {field: await web.field(field) for field in ("hook_name", "url", "secret")}
    try:
        hook = await web.hub.add_webhook(
            web.viewer, name, values["hook_name"], values["url"], values["secret"]
        )
    except AccountError as error:
        if isinstance(error, PermissionDenied):
            raise
        return await _settings_page(web, 400, errors={"webhooks": error.message}, hook_values=values)
    return await _settings_page(web, created_hook=hook, saved="webhooks")


@page
async def remove_webhook(web: WebRequest) -> Response:
    name = repository_name(web)
    await web.hub.remove_webhook(web.viewer, name, int(web.path("hook_id")))
    return web.redirect(_back(name, "webhooks"))


@page
async def delete_repository(web: WebRequest) -> Response:
    name = repository_name(web)
    typed = (await web.field("confirm")).strip()
    if typed != name:
        detail = await web.hub.repository(web.viewer, name)
        if not detail.can_admin:
            raise PermissionDenied("only administrators of this repository can delete it")
        message = f"Type {name} exactly to confirm; nothing was deleted."
        return await _settings_page(web, 400, errors={"delete": message})
    await web.hub.delete_repository(web.viewer, name)
    namespace = name.split("/", 1)[0]
    target = "/" if namespace == "library" else f"/u/{namespace}"
    return web.redirect(f"{target}?{urlencode({'deleted': name})}")
