"""Organisations, their members and roles, at Docker Hub's paths.

    POST   /v2/orgs/                                  {orgname}: a new organisation owned by the caller
    GET    /v2/user/orgs/                             the caller's organisations, with their role
    DELETE /v2/orgs/{orgname}/                        owners; refused (409) while it holds repositories
    GET    /v2/orgs/{orgname}/settings                members
    PATCH  /v2/orgs/{orgname}/settings                owners: {default_repository_visibility}
    GET    /v2/orgs/{orgname}/members                 members; search, role, page, page_size
    PUT    /v2/orgs/{orgname}/members/{username}      owners: {role: owner|member}
    DELETE /v2/orgs/{orgname}/members/{username}      owners, or the member themselves (leave)
    POST   /v2/invites/bulk                           owners: {org, team?, role, invitees}

Dockyard sends no e-mail, so an invitation names Docker IDs and takes effect at once: each
invitee is ``added`` (into ``team`` too, when given), an ``existing_org_member`` or an
``invalid_email_or_docker_id``. ``dry_run`` answers the same without changing anything. No change
may leave an organisation without an owner (409). ``GET /v2/orgs/{orgname}/``, the profile, is in
users.py.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from dockyard.accounts.errors import AlreadyExists
from dockyard.accounts.records import Principal
from dockyard.accounts.roles import OrgAdmin
from dockyard.web.api import org_present, org_schemas
from dockyard.web.api.deps import Ctx, OrgName, Orgs, PageNumber, PageSize, User, Username
from dockyard.web.api.errors import responses
from dockyard.web.api.pagination import base_url, paginate, slice_page
from dockyard.web.api.routing import alias

router = APIRouter(tags=["organizations"])

ORG = "/v2/orgs/{orgname}/"
MEMBER = "/v2/orgs/{orgname}/members/{username}"
NO_CONTENT = {204: {"description": "Done"}}


@alias(
    router.post,
    "/v2/orgs/",
    status_code=201,
    response_model=org_schemas.Org,
    responses=responses(400, 401, 403, 409),
)
async def create_org(
    body: org_schemas.OrgCreate, request: Request, ctx: Ctx, caller: User, orgs: Orgs
) -> org_schemas.Org:
    """A new organisation; the caller becomes its first owner."""
    created = await orgs.create(caller, body.orgname)
    return org_present.org(created, "owner", base_url(request, ctx.settings.public_url))


@alias(router.get, "/v2/user/orgs/", response_model=org_schemas.OrgPage, responses=responses(400, 401, 404))
async def my_orgs(
    request: Request, ctx: Ctx, caller: User, orgs: Orgs, page: PageNumber = 1, page_size: PageSize = 25
) -> org_schemas.OrgPage:
    """The organisations the caller belongs to."""
    found = slice_page(await orgs.orgs_of(caller), page, page_size)
    home = base_url(request, ctx.settings.public_url)
    body = paginate(
        request, ctx.settings.public_url, found, lambda item: org_present.org(item[0], item[1], home)
    )
    return org_schemas.OrgPage(**body)


@alias(
    router.delete,
    ORG,
    status_code=204,
    response_class=Response,
    responses={**NO_CONTENT, **responses(400, 401, 403, 404, 409)},
)
async def delete_org(orgname: OrgName, caller: User, orgs: Orgs) -> Response:
    """Delete an organisation that holds no repositories; its name is never given out again."""
    await orgs.delete(caller, orgname)
    return Response(status_code=204)


@alias(
    router.get,
    "/v2/orgs/{orgname}/settings",
    response_model=org_schemas.OrgSettings,
    responses=responses(400, 401, 403, 404),
)
async def org_settings(orgname: OrgName, caller: User, orgs: Orgs) -> org_schemas.OrgSettings:
    view = await orgs.view(caller, orgname)
    return org_schemas.OrgSettings(
        default_repository_visibility=org_present.visibility(view.org.default_private)
    )


@alias(
    router.patch,
    "/v2/orgs/{orgname}/settings",
    response_model=org_schemas.OrgSettings,
    responses=responses(400, 401, 403, 404),
)
async def update_org_settings(
    orgname: OrgName, body: org_schemas.OrgSettingsUpdate, caller: User, orgs: Orgs
) -> org_schemas.OrgSettings:
    private = body.default_repository_visibility == "private"
    updated = await orgs.set_default_private(caller, orgname, private)
    return org_schemas.OrgSettings(
        default_repository_visibility=org_present.visibility(updated.default_private)
    )


@alias(
    router.get,
    "/v2/orgs/{orgname}/members",
    response_model=org_schemas.OrgMemberPage,
    responses=responses(400, 401, 403, 404),
)
async def list_members(
    orgname: OrgName,
    request: Request,
    ctx: Ctx,
    caller: User,
    orgs: Orgs,
    page: PageNumber = 1,
    page_size: PageSize = 25,
    search: Annotated[str, Query(max_length=30, description="only names containing this")] = "",
    role: Annotated[Literal["owner", "member"] | None, Query(description="only this role")] = None,
) -> org_schemas.OrgMemberPage:
    found = await orgs.members(caller, orgname, role=role, search=search)
    return org_present.member_page(request, ctx.settings.public_url, found, page, page_size)


@alias(router.put, MEMBER, response_model=org_schemas.OrgMember, responses=responses(400, 401, 403, 404, 409))
async def set_member_role(
    orgname: OrgName,
    username: Username,
    body: org_schemas.RoleUpdate,
    request: Request,
    ctx: Ctx,
    caller: User,
    orgs: Orgs,
) -> org_schemas.OrgMember:
    """Make a member an owner or an owner a member (never the last owner)."""
    updated = await orgs.set_role(caller, orgname, username, body.role)
    return org_present.member(updated, base_url(request, ctx.settings.public_url))


@alias(
    router.delete,
    MEMBER,
    status_code=204,
    response_class=Response,
    responses={**NO_CONTENT, **responses(400, 401, 403, 404, 409)},
)
async def remove_member(orgname: OrgName, username: Username, caller: User, orgs: Orgs) -> Response:
    """Take someone out of the organisation and its teams; members may remove themselves."""
    await orgs.remove_member(caller, orgname, username)
    return Response(status_code=204)


@alias(
    router.post,
    "/v2/invites/bulk",
    response_model=org_schemas.BulkInviteResponse,
    responses=responses(400, 401, 403, 404),
)
async def bulk_invite(
    body: org_schemas.BulkInvite, caller: User, orgs: Orgs
) -> org_schemas.BulkInviteResponse:
    """Add Docker IDs to an organisation (and a team): see the module's note on invitations."""
    view = await orgs.view(caller, body.org, "manage")
    if body.team is not None:
        await orgs.team(caller, body.org, body.team)  # 404 before anyone is added
    results = [await _invite(orgs, caller, view.name, name, body) for name in dict.fromkeys(body.invitees)]
    return org_schemas.BulkInviteResponse(invitees=results)


async def _invite(
    orgs: OrgAdmin, caller: Principal, org: str, invitee: str, body: org_schemas.BulkInvite
) -> org_schemas.InviteResult:
    if await orgs.accounts.get_user(invitee) is None:
        return org_schemas.InviteResult(invitee=invitee, status="invalid_email_or_docker_id")
    if await orgs.accounts.member_role(org, invitee) is not None:
        return org_schemas.InviteResult(invitee=invitee, status="existing_org_member")
    if not body.dry_run:
        try:
            await orgs.add_member(caller, org, invitee, body.role)
        except AlreadyExists:  # joined meanwhile
            return org_schemas.InviteResult(invitee=invitee, status="existing_org_member")
        if body.team is not None:
            await orgs.add_team_member(caller, org, body.team, invitee)
    return org_schemas.InviteResult(invitee=invitee, status="added")
