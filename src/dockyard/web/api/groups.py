"""Groups (Docker Hub's name for an organisation's teams), their members, and their permissions
on the organisation's repositories, at Docker Hub's paths.

    GET    /v2/orgs/{orgname}/groups                              members of the organisation
    POST   /v2/orgs/{orgname}/groups                              owners: {name, description}
    GET    /v2/orgs/{orgname}/groups/{group_name}                 members
    PATCH  /v2/orgs/{orgname}/groups/{group_name}                 owners: {name?, description?}
    DELETE /v2/orgs/{orgname}/groups/{group_name}                 owners; never "owners"
    GET    /v2/orgs/{orgname}/groups/{group_name}/members         members
    POST   /v2/orgs/{orgname}/groups/{group_name}/members         owners: {member}; joins the org too
    DELETE /v2/orgs/{orgname}/groups/{group_name}/members/{username}
    GET    /v2/repositories/{namespace}/{repository}/groups       repository admins: who holds what
    POST   /v2/repositories/{namespace}/{repository}/groups       {group_id or group_name, permission}
    DELETE /v2/repositories/{namespace}/{repository}/groups/{group_id}
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Path, Request, Response

from dockyard.accounts.errors import NotFound
from dockyard.accounts.records import Principal, Team
from dockyard.web.api import org_present, org_schemas
from dockyard.web.api.deps import (
    Context,
    Ctx,
    GroupName,
    Namespace,
    OrgName,
    Orgs,
    PageNumber,
    PageSize,
    RepositoryName,
    User,
    Username,
)
from dockyard.web.api.errors import BadRequest, responses
from dockyard.web.api.pagination import base_url, paginate, slice_page
from dockyard.web.api.routing import alias

router = APIRouter(tags=["groups"])

GROUPS = "/v2/orgs/{orgname}/groups"
GROUP = "/v2/orgs/{orgname}/groups/{group_name}"
GROUP_MEMBERS = "/v2/orgs/{orgname}/groups/{group_name}/members"
REPOSITORY_GROUPS = "/v2/repositories/{namespace}/{repository}/groups"
NO_CONTENT = {204: {"description": "Done"}}
GroupId = Annotated[int, Path(ge=1, le=2**31, description="the group's id")]


@alias(router.get, GROUPS, response_model=org_schemas.GroupPage, responses=responses(400, 401, 403, 404))
async def list_groups(
    orgname: OrgName,
    request: Request,
    ctx: Ctx,
    caller: User,
    orgs: Orgs,
    page: PageNumber = 1,
    page_size: PageSize = 25,
) -> org_schemas.GroupPage:
    found = slice_page(await orgs.teams(caller, orgname), page, page_size)
    return org_schemas.GroupPage(**paginate(request, ctx.settings.public_url, found, org_present.group))


@alias(
    router.post,
    GROUPS,
    status_code=201,
    response_model=org_schemas.Group,
    responses=responses(400, 401, 403, 404, 409),
)
async def create_group(
    orgname: OrgName, body: org_schemas.GroupCreate, caller: User, orgs: Orgs
) -> org_schemas.Group:
    return org_present.group(await orgs.create_team(caller, orgname, body.name, body.description))


@alias(router.get, GROUP, response_model=org_schemas.Group, responses=responses(400, 401, 403, 404))
async def get_group(orgname: OrgName, group_name: GroupName, caller: User, orgs: Orgs) -> org_schemas.Group:
    return org_present.group((await orgs.team(caller, orgname, group_name)).team)


@alias(router.patch, GROUP, response_model=org_schemas.Group, responses=responses(400, 401, 403, 404, 409))
async def update_group(
    orgname: OrgName, group_name: GroupName, body: org_schemas.GroupUpdate, caller: User, orgs: Orgs
) -> org_schemas.Group:
    """Rename a group or change its description; "owners" keeps its name."""
    updated = await orgs.update_team(
        caller, orgname, group_name, name=body.name, description=body.description
    )
    return org_present.group(updated)


@alias(
    router.delete,
    GROUP,
    status_code=204,
    response_class=Response,
    responses={**NO_CONTENT, **responses(400, 401, 403, 404, 409)},
)
async def delete_group(orgname: OrgName, group_name: GroupName, caller: User, orgs: Orgs) -> Response:
    """Delete a group with its permissions; its members stay in the organisation."""
    await orgs.delete_team(caller, orgname, group_name)
    return Response(status_code=204)


@alias(
    router.get,
    GROUP_MEMBERS,
    response_model=org_schemas.OrgMemberPage,
    responses=responses(400, 401, 403, 404),
)
async def list_group_members(
    orgname: OrgName,
    group_name: GroupName,
    request: Request,
    ctx: Ctx,
    caller: User,
    orgs: Orgs,
    page: PageNumber = 1,
    page_size: PageSize = 25,
) -> org_schemas.OrgMemberPage:
    team = (await orgs.team(caller, orgname, group_name)).team
    in_group = [m for m in await orgs.members(caller, orgname) if m.username in team.members]
    return org_present.member_page(request, ctx.settings.public_url, in_group, page, page_size)


@alias(
    router.post,
    GROUP_MEMBERS,
    response_model=org_schemas.OrgMember,
    responses=responses(400, 401, 403, 404),
)
async def add_group_member(
    orgname: OrgName,
    group_name: GroupName,
    body: org_schemas.GroupMemberAdd,
    request: Request,
    ctx: Ctx,
    caller: User,
    orgs: Orgs,
) -> org_schemas.OrgMember:
    """Add a user to a group, and so to the organisation; adding a member again changes nothing."""
    await orgs.add_team_member(caller, orgname, group_name, body.member)
    found = await orgs.members(caller, orgname, search=body.member)
    member = next(m for m in found if m.username == body.member)
    return org_present.member(member, base_url(request, ctx.settings.public_url))


@alias(
    router.delete,
    GROUP_MEMBERS + "/{username}",
    status_code=204,
    response_class=Response,
    responses={**NO_CONTENT, **responses(400, 401, 403, 404, 409)},
)
async def remove_group_member(
    orgname: OrgName, group_name: GroupName, username: Username, caller: User, orgs: Orgs
) -> Response:
    """Take a user out of a group (they stay in the organisation); never the last owner."""
    await orgs.remove_team_member(caller, orgname, group_name, username)
    return Response(status_code=204)


# -- a repository's groups -------------------------------------------------------------------------------


@alias(
    router.get,
    REPOSITORY_GROUPS,
    response_model=org_schemas.RepositoryGroupPage,
    responses=responses(400, 401, 403, 404),
)
async def list_repository_groups(
    namespace: Namespace,
    repository: RepositoryName,
    request: Request,
    ctx: Ctx,
    caller: User,
    page: PageNumber = 1,
    page_size: PageSize = 25,
) -> org_schemas.RepositoryGroupPage:
    """The groups holding a permission on an organisation's repository (owners hold admin on all)."""
    granted = await _granted(ctx, caller, namespace, repository)
    found = slice_page(granted, page, page_size)
    return org_schemas.RepositoryGroupPage(**paginate(request, ctx.settings.public_url, found, lambda g: g))


@alias(
    router.post,
    REPOSITORY_GROUPS,
    response_model=org_schemas.RepositoryGroup,
    responses=responses(400, 401, 403, 404),
)
async def grant_repository_group(
    namespace: Namespace,
    repository: RepositoryName,
    body: org_schemas.RepositoryGroupGrant,
    ctx: Ctx,
    caller: User,
) -> org_schemas.RepositoryGroup:
    """Give a group read, write or admin on the repository (or change what it holds)."""
    team = await _team(ctx, caller, namespace, repository, body.group_id, body.group_name)
    await ctx.hub.set_team_access(caller, f"{namespace}/{repository}", team.name, body.permission)
    return org_schemas.RepositoryGroup(group_id=team.id, group_name=team.name, permission=body.permission)


@alias(
    router.delete,
    REPOSITORY_GROUPS + "/{group_id}",
    status_code=204,
    response_class=Response,
    responses={**NO_CONTENT, **responses(400, 401, 403, 404)},
)
async def revoke_repository_group(
    namespace: Namespace, repository: RepositoryName, group_id: GroupId, ctx: Ctx, caller: User
) -> Response:
    team = await _team(ctx, caller, namespace, repository, group_id, None)
    granted = {g.group_id for g in await _granted(ctx, caller, namespace, repository)}
    if team.id not in granted:
        raise NotFound(f"group {team.name!r} holds no permission on {namespace}/{repository}")
    await ctx.hub.set_team_access(caller, f"{namespace}/{repository}", team.name, None)
    return Response(status_code=204)


async def _granted(
    ctx: Context, caller: Principal, namespace: str, repository: str
) -> list[org_schemas.RepositoryGroup]:
    access = await ctx.hub.team_access(caller, f"{namespace}/{repository}")  # admin only, else 403/404
    if not access:  # a personal repository (or an organisation with owners alone)
        return []
    ids = {team.name: team.id for team in await _teams(ctx, namespace)}
    return [
        org_schemas.RepositoryGroup(
            group_id=ids[a.team], group_name=a.team, permission=cast(org_schemas.PermissionName, a.permission)
        )
        for a in access
        if a.permission is not None and a.team in ids
    ]


async def _team(
    ctx: Context, caller: Principal, namespace: str, repository: str, group_id: int | None, name: str | None
) -> Team:
    if (group_id is None) == (name is None):
        raise BadRequest("name the group by group_id or by group_name, not both")
    await ctx.hub.team_access(caller, f"{namespace}/{repository}")  # admin on the repository first
    for team in await _teams(ctx, namespace):
        if team.id == group_id or team.name == name:
            if team.name == "owners":
                raise BadRequest("the owners group holds admin on every repository of the organisation")
            return team
    raise NotFound(f"{namespace!r} has no such group")


async def _teams(ctx: Context, namespace: str) -> list[Team]:
    if await ctx.accounts.get_org(namespace) is None:
        raise BadRequest(f"{namespace!r} is not an organisation: personal repositories have collaborators")
    return await ctx.accounts.list_teams(namespace)
