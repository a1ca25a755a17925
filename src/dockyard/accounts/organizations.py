"""Organisations and their teams: members, and each team's permission on the organisation's repositories.

Every organisation has an "owners" team (policy.OWNERS_TEAM) that may never become empty, be
renamed or be deleted. Joining a team makes someone a member of the organisation (memberships.py).
An organisation is deleted only once it holds no repositories, and its name is retired as a
deleted user's is: whoever took it over would receive the pulls meant for the old organisation.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import and_, delete, select, update
from sqlalchemy.engine import Connection

from dockyard.accounts import _queries as q
from dockyard.accounts import names
from dockyard.accounts._queries import (
    ORGS,
    OWNERS,
    PERMISSIONS,
    members,
    namespaces,
    org_members,
    organizations,
    permissions,
    teams,
    users,
)
from dockyard.accounts.audit import write_event
from dockyard.accounts.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from dockyard.accounts.memberships import count_owners, join
from dockyard.accounts.records import EventKind, Organization, Permission, Team, TeamPermission
from dockyard.db.engine import offload
from dockyard.registry import repository_rows


class Organizations(q.ServicePart):
    # -- organisations --------------------------------------------------------------------------------

    @offload
    def create_org(self, name: str, owner: str, *, actor: str | None = None) -> Organization:
        """An organisation whose "owners" team holds ``owner``."""
        names.validate_docker_id(name)
        now = q.now()
        with self.db.write.begin() as conn:
            owner_user = q.require_user(conn, owner)
            namespace_id = q.claim_namespace(conn, name, "org", now)
            org_id = q.new_id(
                conn.execute(organizations.insert().values(namespace_id=namespace_id, created_at=now))
            )
            owners = teams.insert().values(
                organization_id=org_id, name=OWNERS, description="Organisation owners", created_at=now
            )
            team_id = q.new_id(conn.execute(owners))
            conn.execute(members.insert().values(team_id=team_id, user_id=owner_user.id, created_at=now))
            join(conn, org_id, owner_user.id)
            write_event(conn, EventKind.ORG_CREATED, actor=actor, target=name, detail={"owner": owner})
            org = conn.execute(ORGS.where(organizations.c.id == org_id)).one()
        return q.org_record(org)

    @offload
    def get_org(self, name: str) -> Organization | None:
        with self.db.read.connect() as conn:
            row = conn.execute(ORGS.where(namespaces.c.name == name)).first()
        return None if row is None else q.org_record(row)

    @offload
    def list_orgs(self) -> list[Organization]:
        with self.db.read.connect() as conn:
            rows = conn.execute(ORGS.order_by(namespaces.c.name)).all()
        return [q.org_record(row) for row in rows]

    @offload
    def delete_org(self, name: str, *, actor: str | None = None) -> None:
        """Delete an organisation that holds no repositories (delete those first, each the way the
        hub deletes one): its teams, memberships and permissions go with it, its name is retired."""
        with self.db.write.begin() as conn:
            org_id = q.require_org(conn, name)
            held = repository_rows.held(conn, name)
            if held:
                raise Conflict(f"{name!r} still has {held} repositories; delete them first")
            org_teams = select(teams.c.id).where(teams.c.organization_id == org_id)
            # Children first and explicitly, as everywhere, not trusting ON DELETE CASCADE alone.
            conn.execute(delete(permissions).where(permissions.c.team_id.in_(org_teams)))
            conn.execute(delete(members).where(members.c.team_id.in_(org_teams)))
            conn.execute(delete(teams).where(teams.c.organization_id == org_id))
            conn.execute(delete(org_members).where(org_members.c.organization_id == org_id))
            conn.execute(delete(organizations).where(organizations.c.id == org_id))
            conn.execute(update(namespaces).where(namespaces.c.name == name).values(kind=q.RETIRED))
            write_event(conn, EventKind.ORG_DELETED, actor=actor, target=name, detail={})

    # -- teams and members ----------------------------------------------------------------------------

    @offload
    def create_team(self, org: str, team: str, description: str = "", *, actor: str | None = None) -> Team:
        names.validate_team_name(team)
        description = q.validate_description(description)
        now = q.now()
        with self.db.write.begin() as conn:
            org_id = q.require_org(conn, org)
            if q.team_id(conn, org_id, team) is not None:
                raise AlreadyExists(f"organisation {org!r} already has a team {team!r}")
            conn.execute(
                teams.insert().values(
                    organization_id=org_id, name=team, description=description, created_at=now
                )
            )
            write_event(conn, EventKind.TEAM_CREATED, actor=actor, target=f"{org}/{team}", detail={})
            return _teams(conn, org, org_id, team)[0]

    @offload
    def list_teams(self, org: str) -> list[Team]:
        with self.db.read.connect() as conn:
            return _teams(conn, org, q.require_org(conn, org))

    @offload
    def get_team(self, org: str, team: str) -> Team:
        with self.db.read.connect() as conn:
            found = _teams(conn, org, q.require_org(conn, org), team)
        if not found:
            raise NotFound(f"organisation {org!r} has no team {team!r}")
        return found[0]

    @offload
    def update_team(
        self,
        org: str,
        team: str,
        *,
        name: str | None = None,
        description: str | None = None,
        actor: str | None = None,
    ) -> Team:
        """Rename a team or change its description; the owners team keeps its name."""
        with self.db.write.begin() as conn:
            org_id = q.require_org(conn, org)
            team_id = q.require_team(conn, org, team)
            values: dict[str, str] = {}
            if name is not None and name != team:
                if team == OWNERS:
                    raise Conflict("the owners team cannot be renamed")
                names.validate_team_name(name)
                if q.team_id(conn, org_id, name) is not None:
                    raise AlreadyExists(f"organisation {org!r} already has a team {name!r}")
                values["name"] = name
            if description is not None:
                values["description"] = q.validate_description(description)
            if values:
                conn.execute(update(teams).where(teams.c.id == team_id).values(**values))
                write_event(conn, EventKind.TEAM_CHANGED, actor=actor, target=f"{org}/{team}", detail=values)
            return _teams(conn, org, org_id, values.get("name", team))[0]

    @offload
    def delete_team(self, org: str, team: str, *, actor: str | None = None) -> None:
        """Delete a team with its memberships and permissions; its members stay in the organisation."""
        if team == OWNERS:
            raise Conflict("the owners team cannot be deleted")
        with self.db.write.begin() as conn:
            team_id = q.require_team(conn, org, team)
            conn.execute(delete(permissions).where(permissions.c.team_id == team_id))
            conn.execute(delete(members).where(members.c.team_id == team_id))
            conn.execute(delete(teams).where(teams.c.id == team_id))
            write_event(conn, EventKind.TEAM_DELETED, actor=actor, target=f"{org}/{team}", detail={})

    @offload
    def add_team_member(self, org: str, team: str, username: str, *, actor: str | None = None) -> bool:
        """Add a user to a team; False when they already were a member."""
        with self.db.write.begin() as conn:
            team_id = q.require_team(conn, org, team)
            user = q.require_user(conn, username)
            if _is_member(conn, team_id, user.id):
                return False
            conn.execute(members.insert().values(team_id=team_id, user_id=user.id, created_at=q.now()))
            join(conn, q.require_org(conn, org), user.id)
            write_event(
                conn,
                EventKind.TEAM_MEMBER_ADDED,
                actor=actor,
                target=f"{org}/{team}",
                detail={"user": username},
            )
            return True

    @offload
    def remove_team_member(self, org: str, team: str, username: str, *, actor: str | None = None) -> None:
        with self.db.write.begin() as conn:
            team_id = q.require_team(conn, org, team)
            user = q.require_user(conn, username)
            if not _is_member(conn, team_id, user.id):
                raise NotFound(f"{username!r} is not a member of {org}/{team}")
            if team == OWNERS and count_owners(conn, team_id) <= 1:
                raise Conflict(f"{username!r} is the last owner of {org!r}; add another owner first")
            conn.execute(members.delete().where(members.c.team_id == team_id, members.c.user_id == user.id))
            write_event(
                conn,
                EventKind.TEAM_MEMBER_REMOVED,
                actor=actor,
                target=f"{org}/{team}",
                detail={"user": username},
            )

    # -- team permissions -----------------------------------------------------------------------------

    @offload
    def set_team_permission(
        self, org: str, team: str, repository: str, permission: str, *, actor: str | None = None
    ) -> TeamPermission:
        """Give a team read, write or admin on one existing repository of its organisation."""
        if permission not in PERMISSIONS:
            raise InvalidInput(f"permission must be one of {', '.join(PERMISSIONS)}, not {permission!r}")
        repository = names.canonical_repository(repository)
        q.require_in_org(repository, org)
        with self.db.write.begin() as conn:
            team_id = q.require_team(conn, org, team)
            repo_id = q.require_repository(conn, repository)
            where = and_(permissions.c.team_id == team_id, permissions.c.repository_id == repo_id)
            previous = conn.execute(select(permissions.c.permission).where(where)).scalar_one_or_none()
            if previous is None:
                conn.execute(
                    permissions.insert().values(
                        team_id=team_id, repository_id=repo_id, permission=permission, created_at=q.now()
                    )
                )
            else:
                conn.execute(update(permissions).where(where).values(permission=permission))
            if previous != permission:
                detail = {"team": f"{org}/{team}", "permission": permission, "previous": previous}
                write_event(conn, EventKind.PERMISSION_CHANGED, actor=actor, target=repository, detail=detail)
        return TeamPermission(org, team, repository, cast(Permission, permission))

    @offload
    def remove_team_permission(
        self, org: str, team: str, repository: str, *, actor: str | None = None
    ) -> None:
        repository = names.canonical_repository(repository)
        with self.db.write.begin() as conn:
            team_id = q.require_team(conn, org, team)
            repo_id = q.require_repository(conn, repository)
            result = conn.execute(
                permissions.delete().where(
                    permissions.c.team_id == team_id, permissions.c.repository_id == repo_id
                )
            )
            if not result.rowcount:
                raise NotFound(f"team {org}/{team} has no permission on {repository!r}")
            detail = {"team": f"{org}/{team}", "permission": None}
            write_event(conn, EventKind.PERMISSION_CHANGED, actor=actor, target=repository, detail=detail)

    @offload
    def list_team_permissions(self, org: str, team: str | None = None) -> list[TeamPermission]:
        """By team, then by repository (the registry's names for the permissions' repository ids)."""
        query = (
            select(teams.c.name, permissions.c.repository_id, permissions.c.permission)
            .select_from(permissions.join(teams))
            .order_by(teams.c.name)
        )
        with self.db.read.connect() as conn:
            query = query.where(teams.c.organization_id == q.require_org(conn, org))
            if team is not None:
                query = query.where(teams.c.name == team)
            rows = conn.execute(query).all()
            named = repository_rows.names_by_id(conn, {row.repository_id for row in rows})
        rank = {name: i for i, name in enumerate(dict.fromkeys(row.name for row in rows))}  # SQL's team order
        found = [
            TeamPermission(org, row.name, named[row.repository_id], row.permission)
            for row in rows
            if row.repository_id in named  # one deleted meanwhile: its permissions go with it
        ]
        return sorted(found, key=lambda granted: (rank[granted.team], granted.repository))


def _teams(conn: Connection, org: str, org_id: int, team: str | None = None) -> list[Team]:
    query = select(teams).where(teams.c.organization_id == org_id).order_by(teams.c.name)
    if team is not None:
        query = query.where(teams.c.name == team)
    rows = conn.execute(query).all()
    member_rows = conn.execute(
        select(members.c.team_id, namespaces.c.name)
        .select_from(members.join(users).join(namespaces))
        .where(members.c.team_id.in_([row.id for row in rows]))
        .order_by(namespaces.c.name)
    ).all()
    by_team: dict[int, list[str]] = {}
    for member in member_rows:
        by_team.setdefault(member.team_id, []).append(member.name)
    return [
        Team(row.id, org, row.name, row.description, q.utc(row.created_at), tuple(by_team.get(row.id, ())))
        for row in rows
    ]


def _is_member(conn: Connection, team_id: int, user_id: int) -> bool:
    query = select(members.c.team_id).where(members.c.team_id == team_id, members.c.user_id == user_id)
    return conn.execute(query).first() is not None
