"""The Collaborators section of a personal repository's settings page, as the page shows it. Its own
module, as build_link.py is: the settings page (which shows it) and collaborators.py (whose forms
post it) both import it, and neither imports the other's handlers back.
"""

from __future__ import annotations

from typing import Any

from dockyard.accounts import names
from dockyard.accounts.policy import PERMISSIONS
from dockyard.accounts.roles import RepositorySharing
from dockyard.hub.records import RepositoryDetail
from dockyard.web.context import WebRequest

LABELS = {"read": "Read", "write": "Read & write", "admin": "Admin"}


def sharing(web: WebRequest) -> RepositorySharing:
    return RepositorySharing(web.app.accounts)


async def collaborators_context(web: WebRequest, detail: RepositoryDetail) -> dict[str, Any]:
    """``collaborators``: the list on a personal repository, None elsewhere (the section hides)."""
    personal = await web.app.accounts.get_user(names.namespace_of(detail.name)) is not None
    found = await sharing(web).collaborators(web.viewer, detail.name) if personal else None
    return {
        "collaborators": found,
        "collaborator_permissions": [(p, LABELS[p]) for p in PERMISSIONS],
    }
