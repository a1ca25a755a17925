"""The JSON shapes of organisations, their members and groups (Docker Hub's name for teams), the
groups' repository permissions, and collaborators, named and typed as Docker Hub's.

Fields Dockyard keeps nothing for (full name, location, company, gravatar) are empty strings, as
Docker Hub answers for an account that never filled them in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from dockyard.web.api.schemas import DOCKER_ID, NamespaceName, Paginated, Strict

TEAM = r"^[a-z0-9][a-z0-9_-]{0,29}$"
PermissionName = Literal["read", "write", "admin"]
RoleName = Literal["owner", "member"]
Visibility = Literal["public", "private"]
Username = Annotated[str, Field(max_length=30, pattern=DOCKER_ID)]
TeamName = Annotated[str, Field(max_length=30, pattern=TEAM)]
TeamDescription = Annotated[str, Field(max_length=100)]


class Org(BaseModel):
    id: str
    orgname: str
    full_name: str
    location: str
    company: str
    profile_url: str
    gravatar_url: str
    date_joined: datetime
    type: Literal["Organization"]
    role: Literal["Owner", "Member"] | None = Field(description="the caller's role in it")
    default_repository_visibility: Visibility


class OrgPage(Paginated[Org]):
    pass


class OrgCreate(Strict):
    orgname: NamespaceName
    full_name: Annotated[str, Field(max_length=100)] = ""
    company: Annotated[str, Field(max_length=100)] = ""
    location: Annotated[str, Field(max_length=100)] = ""


class OrgSettings(BaseModel):
    default_repository_visibility: Visibility = Field(
        description="what a push that creates a repository in the organisation makes it"
    )


class OrgSettingsUpdate(Strict):
    default_repository_visibility: Visibility


class OrgMember(BaseModel):
    id: str
    username: str
    full_name: str
    location: str
    company: str
    profile_url: str
    gravatar_url: str
    date_joined: datetime = Field(description="when they joined the organisation")
    type: Literal["User"]
    role: Literal["Owner", "Member"]
    groups: list[str] = Field(description="their groups in the organisation, owners included")
    is_guest: bool
    email: str


class OrgMemberPage(Paginated[OrgMember]):
    pass


class RoleUpdate(Strict):
    role: RoleName


class BulkInvite(Strict):
    org: NamespaceName
    team: TeamName | None = None
    role: RoleName = "member"
    invitees: Annotated[list[Username], Field(min_length=1, max_length=100)]
    dry_run: bool = False


class InviteResult(BaseModel):
    invitee: str
    status: Literal["added", "existing_org_member", "invalid_email_or_docker_id"]
    invite: None = Field(default=None, description="always null: Dockyard sends no invitations")


class BulkInviteResponse(BaseModel):
    invitees: list[InviteResult]


class Group(BaseModel):
    id: int
    uuid: str
    name: str
    description: str
    member_count: int


class GroupPage(Paginated[Group]):
    pass


class GroupCreate(Strict):
    name: TeamName
    description: TeamDescription = ""


class GroupUpdate(Strict):
    name: TeamName | None = None
    description: TeamDescription | None = None


class GroupMemberAdd(Strict):
    member: Username


class RepositoryGroup(BaseModel):
    group_id: int
    group_name: str
    permission: PermissionName


class RepositoryGroupPage(Paginated[RepositoryGroup]):
    pass


class RepositoryGroupGrant(Strict):
    group_id: int | None = Field(default=None, ge=1, le=2**31, description="this, or group_name")
    group_name: TeamName | None = None
    permission: PermissionName


class Collaborator(BaseModel):
    user: str
    permission: PermissionName


class CollaboratorPage(Paginated[Collaborator]):
    pass


class CollaboratorAdd(Strict):
    user: Username
    permission: PermissionName = "write"


class CollaboratorUpdate(Strict):
    permission: PermissionName
