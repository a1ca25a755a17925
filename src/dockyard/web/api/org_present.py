"""Organisation, member, group and collaborator records to Docker Hub's shapes (org_schemas.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

from starlette.requests import Request

from dockyard.accounts.records import Collaborator, Organization, OrgMember, OrgRole, Team, TeamPermission
from dockyard.web.api import org_schemas as shapes
from dockyard.web.api.pagination import base_url, paginate, slice_page
from dockyard.web.api.present import org_uuid, user_uuid

GROUP_NAMESPACE = uuid.UUID("3b8e4f2a-6c1d-5e7f-8a9b-0c1d2e3f4a5b")
ROLE_NAMES: dict[OrgRole, Literal["Owner", "Member"]] = {"owner": "Owner", "member": "Member"}


def visibility(private: bool) -> shapes.Visibility:
    return "private" if private else "public"


def org(found: Organization, role: OrgRole | None, base_url: str) -> shapes.Org:
    return shapes.Org(
        id=org_uuid(found.id),
        orgname=found.name,
        full_name="",
        location="",
        company="",
        profile_url=f"{base_url}/u/{found.name}",
        gravatar_url="",
        date_joined=found.created_at,
        type="Organization",
        role=ROLE_NAMES[role] if role is not None else None,
        default_repository_visibility=visibility(found.default_private),
    )


def member(found: OrgMember, base_url: str) -> shapes.OrgMember:
    groups = sorted(found.teams + (("owners",) if found.role == "owner" else ()))
    return shapes.OrgMember(
        id=user_uuid(found.user_id),
        username=found.username,
        full_name="",
        location="",
        company="",
        profile_url=f"{base_url}/u/{found.username}",
        gravatar_url="",
        date_joined=found.joined_at,
        type="User",
        role=ROLE_NAMES[found.role],
        groups=groups,
        is_guest=False,
        email="",  # never shown to other members
    )


def member_page(
    request: Request, public_url: str, members: Sequence[OrgMember], page: int, page_size: int
) -> shapes.OrgMemberPage:
    """One page of an organisation's (or a group's) members, as Docker Hub pages them; an
    organisation has few members, so the list is cut here rather than in SQL."""
    home = base_url(request, public_url)
    found = slice_page(members, page, page_size)
    return shapes.OrgMemberPage(**paginate(request, public_url, found, lambda m: member(m, home)))


def group(team: Team) -> shapes.Group:
    return shapes.Group(
        id=team.id,
        uuid=str(uuid.uuid5(GROUP_NAMESPACE, str(team.id))),
        name=team.name,
        description=team.description,
        member_count=len(team.members),
    )


def repository_group(grant: TeamPermission, group_id: int) -> shapes.RepositoryGroup:
    return shapes.RepositoryGroup(group_id=group_id, group_name=grant.team, permission=grant.permission)


def collaborator(found: Collaborator) -> shapes.Collaborator:
    return shapes.Collaborator(user=found.username, permission=found.permission)
