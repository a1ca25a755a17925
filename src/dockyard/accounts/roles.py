"""What a signed-in person may do to organisations and to a repository's collaborators, asked by
the pages and the JSON API. Each method checks the caller against the policy (policy.py:
``org_actions`` by their role in the organisation, ``repository_actions`` for a repository's
admin right) and then calls AccountService, whose methods trust their caller (the command line
is the operator and calls those directly).

    view      an organisation's members and teams        its members (any role), administrators
    manage    members, roles, teams, settings, deletion  its owners, administrators
    leave     remove yourself                           any member (never the last owner)
    sharing   a repository's collaborators              whoever holds admin (delete) on it

A caller who may not see something gets PermissionDenied (the pages send anonymous visitors to
log in); a repository the caller may not pull is NotFound, exactly as a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dockyard.accounts import names, policy
from dockyard.accounts.errors import InvalidInput, InvalidName, NotFound, PermissionDenied
from dockyard.accounts.policy import LEAVE, MANAGE, OWNERS_TEAM, VIEW
from dockyard.accounts.records import (
    Collaborator,
    Organization,
    OrgMember,
    OrgRole,
    Principal,
    RepositoryInfo,
    Team,
    TeamPermission,
)

if TYPE_CHECKING:
    from dockyard.accounts.service import AccountService

REFUSALS = {
    VIEW: "only members of {org} can see its members and teams",
    MANAGE: "only owners of {org} can change it",
    LEAVE: "only members of {org} can leave it",
}


@dataclass(frozen=True, slots=True)
class OrgView:
    """An organisation as one caller sees it: their role there and what they may do."""

    org: Organization
    role: OrgRole | None
    actions: frozenset[str]

    @property
    def name(self) -> str:
        return self.org.name

    @property
    def can_manage(self) -> bool:
        return MANAGE in self.actions

    @property
    def can_leave(self) -> bool:
        return LEAVE in self.actions


@dataclass(frozen=True, slots=True)
class TeamView:
    team: Team
    permissions: list[TeamPermission]


class OrgAdmin:
    def __init__(self, accounts: AccountService) -> None:
        self.accounts = accounts

    async def view(self, viewer: Principal | None, org: str, action: str = VIEW) -> OrgView:
        found = await self.accounts.get_org(org)
        if found is None:
            raise NotFound(f"no organisation named {org!r}")
        role = await self.accounts.member_role(org, viewer.username) if viewer is not None else None
        actions = policy.org_actions(viewer, role)
        if action not in actions:
            raise PermissionDenied("log in first" if viewer is None else REFUSALS[action].format(org=org))
        return OrgView(found, role, actions)

    async def create(self, viewer: Principal | None, name: str) -> Organization:
        """A new organisation owned by the caller."""
        if viewer is None or MANAGE not in policy.org_actions(viewer, "owner"):
            raise PermissionDenied("log in with a password or a repo:admin token to create organisations")
        return await self.accounts.create_org(name, viewer.username, actor=viewer.username)

    async def orgs_of(self, viewer: Principal) -> list[tuple[Organization, OrgRole]]:
        found = []
        for name, role in await self.accounts.orgs_of(viewer.username):
            org = await self.accounts.get_org(name)
            if org is not None:
                found.append((org, role))
        return found

    # -- members --------------------------------------------------------------------------------

    async def members(
        self, viewer: Principal | None, org: str, *, role: str | None = None, search: str = ""
    ) -> list[OrgMember]:
        await self.view(viewer, org)
        return await self.accounts.list_members(org, role=role, search=search)

    async def add_member(self, viewer: Principal | None, org: str, username: str, role: str) -> OrgMember:
        await self.view(viewer, org, MANAGE)
        return await self.accounts.add_member(org, username.strip(), role, actor=_actor(viewer))

    async def set_role(self, viewer: Principal | None, org: str, username: str, role: str) -> OrgMember:
        await self.view(viewer, org, MANAGE)
        return await self.accounts.set_member_role(org, username, role, actor=_actor(viewer))

    async def remove_member(self, viewer: Principal | None, org: str, username: str) -> None:
        """Owners remove anyone; every member may remove themselves (leave)."""
        leaving = viewer is not None and viewer.username == username
        await self.view(viewer, org, LEAVE if leaving else MANAGE)
        await self.accounts.remove_member(org, username, actor=_actor(viewer))

    # -- teams ----------------------------------------------------------------------------------

    async def teams(self, viewer: Principal | None, org: str) -> list[Team]:
        await self.view(viewer, org)
        return await self.accounts.list_teams(org)

    async def team(self, viewer: Principal | None, org: str, team: str) -> TeamView:
        await self.view(viewer, org)
        found = await self.accounts.get_team(org, team)
        return TeamView(found, await self.accounts.list_team_permissions(org, team))

    async def create_team(self, viewer: Principal | None, org: str, team: str, description: str = "") -> Team:
        await self.view(viewer, org, MANAGE)
        return await self.accounts.create_team(org, team.strip(), description, actor=_actor(viewer))

    async def update_team(
        self, viewer: Principal | None, org: str, team: str, *, name: str | None, description: str | None
    ) -> Team:
        await self.view(viewer, org, MANAGE)
        return await self.accounts.update_team(
            org, team, name=name, description=description, actor=_actor(viewer)
        )

    async def delete_team(self, viewer: Principal | None, org: str, team: str) -> None:
        await self.view(viewer, org, MANAGE)
        await self.accounts.delete_team(org, team, actor=_actor(viewer))

    async def add_team_member(self, viewer: Principal | None, org: str, team: str, username: str) -> bool:
        """Add a user to a team (which makes them a member of the organisation); False when they
        already were in it."""
        await self.view(viewer, org, MANAGE)
        await self.accounts.get_team(org, team)  # NotFound before anything else
        return await self.accounts.add_team_member(org, team, username.strip(), actor=_actor(viewer))

    async def remove_team_member(self, viewer: Principal | None, org: str, team: str, username: str) -> None:
        await self.view(viewer, org, MANAGE)
        await self.accounts.remove_team_member(org, team, username, actor=_actor(viewer))

    async def set_team_permission(
        self, viewer: Principal | None, org: str, team: str, repository: str, permission: str | None
    ) -> None:
        """Give a team read, write or admin on one of the organisation's repositories, or (None)
        take its permission there away."""
        await self.view(viewer, org, MANAGE)
        if team == OWNERS_TEAM:
            raise InvalidInput("the owners team holds admin on every repository of the organisation")
        repository = _in_org(repository, org)
        await self.accounts.get_team(org, team)
        if permission is None:
            await self.accounts.remove_team_permission(org, team, repository, actor=_actor(viewer))
        else:
            await self.accounts.set_team_permission(org, team, repository, permission, actor=_actor(viewer))

    async def repositories(self, viewer: Principal | None, org: str) -> list[RepositoryInfo]:
        """The organisation's repositories, for the owners' permission forms."""
        await self.view(viewer, org, MANAGE)
        return await self.accounts.list_repositories(org)

    # -- settings -------------------------------------------------------------------------------

    async def set_default_private(self, viewer: Principal | None, org: str, private: bool) -> Organization:
        await self.view(viewer, org, MANAGE)
        await self.accounts.set_default_private(org, private, actor=_actor(viewer))
        found = await self.accounts.get_org(org)
        assert found is not None
        return found

    async def delete(self, viewer: Principal | None, org: str) -> None:
        await self.view(viewer, org, MANAGE)
        await self.accounts.delete_org(org, actor=_actor(viewer))


class RepositorySharing:
    """A personal repository's collaborators, for whoever holds admin on it."""

    def __init__(self, accounts: AccountService) -> None:
        self.accounts = accounts

    async def require_admin(self, viewer: Principal | None, repository: str) -> str:
        """The canonical name, when the repository exists and the caller holds admin on it."""
        try:
            name = names.canonical_repository(repository)
        except InvalidName:
            raise NotFound(f"repository {repository!r} not found") from None
        actions = await self.accounts.repository_actions(viewer, name)
        if "pull" not in actions or await self.accounts.get_repository(name) is None:
            raise NotFound(f"repository {name!r} not found")
        if "delete" not in actions:
            refusal = f"only administrators of {name} can change who shares it"
            raise PermissionDenied("log in first" if viewer is None else refusal)
        return name

    async def collaborators(self, viewer: Principal | None, repository: str) -> list[Collaborator]:
        return await self.accounts.list_collaborators(await self.require_admin(viewer, repository))

    async def collaborator(self, viewer: Principal | None, repository: str, username: str) -> Collaborator:
        return await self.accounts.get_collaborator(await self.require_admin(viewer, repository), username)

    async def set(
        self, viewer: Principal | None, repository: str, username: str, permission: str
    ) -> Collaborator:
        name = await self.require_admin(viewer, repository)
        return await self.accounts.set_collaborator(name, username.strip(), permission, actor=_actor(viewer))

    async def remove(self, viewer: Principal | None, repository: str, username: str) -> None:
        name = await self.require_admin(viewer, repository)
        await self.accounts.remove_collaborator(name, username, actor=_actor(viewer))


def _actor(viewer: Principal | None) -> str | None:
    return viewer.username if viewer is not None else None


def _in_org(repository: str, org: str) -> str:
    """``NAME`` or ``ORG/NAME``, as the full name of one of the organisation's repositories."""
    full = repository if "/" in repository else f"{org}/{repository}"
    full = names.canonical_repository(full)
    if names.namespace_of(full) != org:
        raise InvalidInput(f"{repository!r} is not a repository of {org!r}")
    return full
