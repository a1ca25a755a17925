"""Collaborators on a personal repository (Docker Hub's Collaborators tab), for its admins.

    GET    /v2/repositories/{namespace}/{repository}/collaborators               paginated
    POST   /v2/repositories/{namespace}/{repository}/collaborators               {user, permission}
    GET    /v2/repositories/{namespace}/{repository}/collaborators/{username}
    PUT    /v2/repositories/{namespace}/{repository}/collaborators/{username}    {permission}
    DELETE /v2/repositories/{namespace}/{repository}/collaborators/{username}

Permissions are read (pull), write (pull, push) and admin (also delete, settings, collaborators).
An organisation's repositories are shared through groups instead (400 here).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from dockyard.web.api import org_present, org_schemas
from dockyard.web.api.deps import (
    Ctx,
    Namespace,
    PageNumber,
    PageSize,
    RepositoryName,
    Sharing,
    User,
    Username,
)
from dockyard.web.api.errors import responses
from dockyard.web.api.pagination import paginate, slice_page
from dockyard.web.api.routing import alias

router = APIRouter(tags=["collaborators"])

COLLABORATORS = "/v2/repositories/{namespace}/{repository}/collaborators"
COLLABORATOR = COLLABORATORS + "/{username}"


@alias(
    router.get,
    COLLABORATORS,
    response_model=org_schemas.CollaboratorPage,
    responses=responses(400, 401, 403, 404),
)
async def list_collaborators(
    namespace: Namespace,
    repository: RepositoryName,
    request: Request,
    ctx: Ctx,
    caller: User,
    sharing: Sharing,
    page: PageNumber = 1,
    page_size: PageSize = 25,
) -> org_schemas.CollaboratorPage:
    found = slice_page(await sharing.collaborators(caller, f"{namespace}/{repository}"), page, page_size)
    body = paginate(request, ctx.settings.public_url, found, org_present.collaborator)
    return org_schemas.CollaboratorPage(**body)


@alias(
    router.post,
    COLLABORATORS,
    status_code=201,
    response_model=org_schemas.Collaborator,
    responses=responses(400, 401, 403, 404),
)
async def add_collaborator(
    namespace: Namespace,
    repository: RepositoryName,
    body: org_schemas.CollaboratorAdd,
    caller: User,
    sharing: Sharing,
) -> org_schemas.Collaborator:
    """Add a collaborator (or change the permission of one already there)."""
    added = await sharing.set(caller, f"{namespace}/{repository}", body.user, body.permission)
    return org_present.collaborator(added)


@alias(
    router.get, COLLABORATOR, response_model=org_schemas.Collaborator, responses=responses(400, 401, 403, 404)
)
async def get_collaborator(
    namespace: Namespace, repository: RepositoryName, username: Username, caller: User, sharing: Sharing
) -> org_schemas.Collaborator:
    return org_present.collaborator(await sharing.collaborator(caller, f"{namespace}/{repository}", username))


@alias(
    router.put, COLLABORATOR, response_model=org_schemas.Collaborator, responses=responses(400, 401, 403, 404)
)
async def set_collaborator(
    namespace: Namespace,
    repository: RepositoryName,
    username: Username,
    body: org_schemas.CollaboratorUpdate,
    caller: User,
    sharing: Sharing,
) -> org_schemas.Collaborator:
    """Set a collaborator's permission, adding them when they are not one yet."""
    return org_present.collaborator(
        await sharing.set(caller, f"{namespace}/{repository}", username, body.permission)
    )


@alias(
    router.delete,
    COLLABORATOR,
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Removed"}, **responses(400, 401, 403, 404)},
)
async def remove_collaborator(
    namespace: Namespace, repository: RepositoryName, username: Username, caller: User, sharing: Sharing
) -> Response:
    await sharing.remove(caller, f"{namespace}/{repository}", username)
    return Response(status_code=204)
