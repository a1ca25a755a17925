"""Who belongs to an organisation, and in which role: owner or member (Docker Hub's roles).

    organization_members    everyone in the organisation, whatever their teams
    the "owners" team       the owners among them (policy.OWNERS_TEAM); never empty

Joining a team makes someone a member; leaving the organisation takes them out of every team of
it. A role change moves them into or out of the owners team. Every change writes its audit event
in the same transaction, and a change that would leave the organisation without an owner is a
Conflict, checked inside that transaction.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from dockyard.accounts import _queries as q
from dockyard.accounts._queries import OWNERS, members, namespaces, org_members, organizations, teams, users
from dockyard.accounts.audit import write_event
from dockyard.accounts.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from dockyard.accounts.policy import ROLES
from dockyard.accounts.records import EventKind, OrgMember, OrgRole
from dockyard.db.engine import offload


class Memberships(q.ServicePart):
    @offload
    def list_members(self, org: str, *, role: str | None = None, search: str = "") -> list[OrgMember]:
        """The organisation's members by name, with their role and teams; ``search`` is a
        substring of the name, ``role`` keeps one role."""
        with self.db.read.connect() as conn:
            found = _members(conn, org, q.require_org(conn, org), search=search.strip().lower()[:30])
        return [member for member in found if role is None or member.role == role]

    @offload
    def member_role(self, org: str, username: str) -> OrgRole | None:
        """The user's role in the organisation; None when they are not in it (or it does not exist)."""
        with self.db.read.connect() as conn:
            org_id = _org_id(conn, org)
            user = q.user(conn, username)
            if org_id is None or user is None:
                return None
            return role_of(conn, org_id, user.id)

    @offload
    def orgs_of(self, username: str) -> list[tuple[str, OrgRole]]:
        """The organisations the user is in, by name, with their role in each."""
        with self.db.read.connect() as conn:
            user = q.require_user(conn, username)
            rows = conn.execute(
                select(organizations.c.id, namespaces.c.name)
                .select_from(org_members.join(organizations).join(namespaces))
                .where(org_members.c.user_id == user.id)
                .order_by(namespaces.c.name)
            ).all()
            owned = set(_owned_orgs(conn, user.id))
        return [(row.name, "owner" if row.id in owned else "member") for row in rows]

    @offload
    def add_member(
        self, org: str, username: str, role: str = "member", *, actor: str | None = None
    ) -> OrgMember:
        """Add a user to the organisation in a role; AlreadyExists when they are in it."""
        _check_role(role)
        with self.db.write.begin() as conn:
            org_id = q.require_org(conn, org)
            user = q.require_user(conn, username)
            if role_of(conn, org_id, user.id) is not None:
                raise AlreadyExists(f"{username!r} is already a member of {org!r}")
            join(conn, org_id, user.id)
            if role == "owner":
                _join_team(conn, _owners_team(conn, org_id), user.id)
            detail = {"user": username, "role": role}
            write_event(conn, EventKind.ORG_MEMBER_ADDED, actor=actor, target=org, detail=detail)
            return _member(conn, org, org_id, username)

    @offload
    def set_member_role(self, org: str, username: str, role: str, *, actor: str | None = None) -> OrgMember:
        """Make a member an owner, or an owner a member (never the last owner)."""
        _check_role(role)
        with self.db.write.begin() as conn:
            org_id = q.require_org(conn, org)
            user = q.require_user(conn, username)
            previous = role_of(conn, org_id, user.id)
            if previous is None:
                raise NotFound(f"{username!r} is not a member of {org!r}")
            owners = _owners_team(conn, org_id)
            if previous != role:
                if role == "owner":
                    _join_team(conn, owners, user.id)
                else:
                    _keep_an_owner(conn, org, owners, username)
                    owner_row = (members.c.team_id == owners, members.c.user_id == user.id)
                    conn.execute(delete(members).where(*owner_row))
                detail = {"user": username, "role": role, "previous": previous}
                write_event(conn, EventKind.ORG_ROLE_CHANGED, actor=actor, target=org, detail=detail)
            return _member(conn, org, org_id, username)

    @offload
    def remove_member(self, org: str, username: str, *, actor: str | None = None) -> None:
        """Take a user out of the organisation and every team of it (never the last owner)."""
        with self.db.write.begin() as conn:
            org_id = q.require_org(conn, org)
            user = q.require_user(conn, username)
            role = role_of(conn, org_id, user.id)
            if role is None:
                raise NotFound(f"{username!r} is not a member of {org!r}")
            if role == "owner":
                _keep_an_owner(conn, org, _owners_team(conn, org_id), username)
            org_teams = select(teams.c.id).where(teams.c.organization_id == org_id)
            in_teams = (members.c.user_id == user.id, members.c.team_id.in_(org_teams))
            conn.execute(delete(members).where(*in_teams))
            membership = (org_members.c.organization_id == org_id, org_members.c.user_id == user.id)
            conn.execute(delete(org_members).where(*membership))
            detail = {"user": username, "role": role}
            write_event(conn, EventKind.ORG_MEMBER_REMOVED, actor=actor, target=org, detail=detail)


# -- inside a caller's transaction ------------------------------------------------------------------


def role_of(conn: Connection, org_id: int, user_id: int) -> OrgRole | None:
    if org_id in _owned_orgs(conn, user_id, only=org_id):
        return "owner"
    found = conn.execute(
        select(org_members.c.user_id).where(
            org_members.c.organization_id == org_id, org_members.c.user_id == user_id
        )
    ).first()
    return "member" if found is not None else None


def join(conn: Connection, org_id: int, user_id: int) -> bool:
    """Make the user a member (no event: the caller writes the one that says why); False when
    they already were."""
    where = (org_members.c.organization_id == org_id, org_members.c.user_id == user_id)
    if conn.execute(select(org_members.c.user_id).where(*where)).first() is not None:
        return False
    conn.execute(org_members.insert().values(organization_id=org_id, user_id=user_id, created_at=q.now()))
    return True


def count_owners(conn: Connection, owners_team: int) -> int:
    return int(conn.execute(select(func.count()).where(members.c.team_id == owners_team)).scalar_one())


def _keep_an_owner(conn: Connection, org: str, owners_team: int, username: str) -> None:
    if count_owners(conn, owners_team) <= 1:
        raise Conflict(f"{username!r} is the last owner of {org!r}; make someone else an owner first")


def _owned_orgs(conn: Connection, user_id: int, only: int | None = None) -> list[int]:
    query = (
        select(teams.c.organization_id)
        .select_from(teams.join(members))
        .where(teams.c.name == OWNERS, members.c.user_id == user_id)
    )
    if only is not None:
        query = query.where(teams.c.organization_id == only)
    return list(conn.execute(query).scalars())


def _owners_team(conn: Connection, org_id: int) -> int:
    team_id = q.team_id(conn, org_id, OWNERS)
    assert team_id is not None, "every organisation has an owners team"
    return team_id


def _join_team(conn: Connection, team_id: int, user_id: int) -> None:
    where = (members.c.team_id == team_id, members.c.user_id == user_id)
    if conn.execute(select(members.c.team_id).where(*where)).first() is None:
        conn.execute(members.insert().values(team_id=team_id, user_id=user_id, created_at=q.now()))


def _org_id(conn: Connection, org: str) -> int | None:
    try:
        return q.require_org(conn, org)
    except NotFound:
        return None


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def _member(conn: Connection, org: str, org_id: int, username: str) -> OrgMember:
    found = [m for m in _members(conn, org, org_id, exact=username)]
    assert found, f"{username} was just made a member of {org}"
    return found[0]


def _members(
    conn: Connection, org: str, org_id: int, *, search: str = "", exact: str | None = None
) -> list[OrgMember]:
    query = (
        select(users.c.id, namespaces.c.name, org_members.c.created_at)
        .select_from(org_members.join(users).join(namespaces))
        .where(org_members.c.organization_id == org_id)
        .order_by(namespaces.c.name)
    )
    if search:
        query = query.where(namespaces.c.name.contains(search, autoescape=True))
    if exact is not None:
        query = query.where(namespaces.c.name == exact)
    rows = conn.execute(query).all()
    held: dict[int, list[str]] = {}
    for user_id, team in conn.execute(
        select(members.c.user_id, teams.c.name)
        .select_from(members.join(teams))
        .where(teams.c.organization_id == org_id, members.c.user_id.in_([row.id for row in rows]))
        .order_by(teams.c.name)
    ):
        held.setdefault(user_id, []).append(team)
    result = []
    for row in rows:
        in_teams = held.get(row.id, [])
        role: OrgRole = "owner" if OWNERS in in_teams else "member"
        others = tuple(team for team in in_teams if team != OWNERS)
        result.append(OrgMember(org, row.name, row.id, role, others, q.utc(row.created_at)))
    return result
