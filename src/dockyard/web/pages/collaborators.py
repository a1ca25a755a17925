"""The Collaborators section of a personal repository's settings: add a user with read, write or
admin, change their permission, remove them. Organisations' repositories show their teams
instead (settings.py), official images neither.

``collaborator_view.collaborators_context`` is what the settings page renders the section from;
the two actions answer with a redirect back to it, or show it again with the error beside the form.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from dockyard.accounts.errors import AccountError, PermissionDenied
from dockyard.web.context import WebRequest, page
from dockyard.web.pages.collaborator_view import sharing
from dockyard.web.pages.common import repository_name, repository_url
from dockyard.web.pages.settings import settings_page


def _back(name: str) -> str:
    return f"{repository_url(name)}/settings/collaborators"


async def _again(web: WebRequest, message: str, **kept: Any) -> Response:
    return await settings_page(web, 400, tab="collaborators", errors={"collaborators": message}, **kept)


@page
async def save(web: WebRequest) -> Response:
    """Add a collaborator, or change the permission of one."""
    name = repository_name(web)
    username, permission = (await web.field("username")).strip(), await web.field("permission")
    try:
        await sharing(web).set(web.viewer, name, username, permission)
    except PermissionDenied:
        raise
    except AccountError as error:
        return await _again(web, error.message, collaborator_values={"username": username})
    return web.redirect(_back(name), notice="Collaborators saved.")


@page
async def remove(web: WebRequest) -> Response:
    name = repository_name(web)
    try:
        await sharing(web).remove(web.viewer, name, web.path("username"))
    except PermissionDenied:
        raise
    except AccountError as error:
        return await _again(web, error.message)
    return web.redirect(_back(name), notice="Collaborators saved.")
