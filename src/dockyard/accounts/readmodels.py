"""Read models of the accounts' tables for the packages above (the hub's pages, the web sessions),
inside the caller's connection: records out, never the tables.

    user_count(conn)                     how many accounts exist (the first-start hint)
    session_user(conn, user_id)          who a web session belongs to, None when disabled or gone
    credentials_version(conn, user_id)   the account's current one, None when gone
    default_private(conn, namespace)     whether a repository the registry creates there is private
    organization_names(conn)             every organisation, by name
    owned_organizations(conn, user_id)   the organisations whose owners team holds the user
    user_page(conn, text, ...)           the administrators' list of users, searched, keyset-paged in SQL
    audit_page(conn, ...) / audit_kinds   the audit log, filtered and keyset-paged in SQL
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.engine import Connection

from dockyard.accounts._queries import OWNERS, events, members, namespaces, organizations, teams, users, utc
from dockyard.accounts.records import AuditEvent
from dockyard.db.keyset import Cursors, Keyset


@dataclass(frozen=True, slots=True)
class SessionUser:
    user_id: int
    username: str
    is_admin: bool
    credentials_version: int


@dataclass(frozen=True, slots=True)
class UserListing:
    username: str
    email: str
    full_name: str
    is_admin: bool
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True, slots=True)
class UserPage:
    users: list[UserListing]
    count: int  # every user that matches, not only this page
    cursors: Cursors  # where the pages beside this one start


USER_ORDER = Keyset("name", (namespaces.c.name,))  # unique: a total order


_SESSION_USER = select(
    users.c.id, namespaces.c.name, users.c.is_admin, users.c.credentials_version
).select_from(users.join(namespaces))


def user_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def session_user(conn: Connection, user_id: int) -> SessionUser | None:
    row = conn.execute(_SESSION_USER.where(users.c.id == user_id, users.c.disabled_at.is_(None))).first()
    if row is None:
        return None
    return SessionUser(int(row.id), row.name, bool(row.is_admin), int(row.credentials_version))


def credentials_version(conn: Connection, user_id: int) -> int | None:
    found = conn.execute(
        select(users.c.credentials_version).where(users.c.id == user_id)
    ).scalar_one_or_none()
    return None if found is None else int(found)


_DEFAULT_PRIVATE = select(namespaces.c.default_private).where(namespaces.c.name == bindparam("namespace"))


def default_private(conn: Connection, namespace: str) -> bool:
    """The namespace's default visibility, for a repository the registry creates in it (a push
    into a new name, a mount, a proxy's cache fill): ``registry.store.DefaultVisibility``, passed
    by the composition root. A namespace without a row (library/, an open registry's) is public."""
    return bool(conn.execute(_DEFAULT_PRIVATE, {"namespace": namespace}).scalar_one_or_none())


def organization_names(conn: Connection) -> list[str]:
    query = select(namespaces.c.name).join(organizations).order_by(namespaces.c.name)
    return list(conn.execute(query).scalars())


def owned_organizations(conn: Connection, user_id: int) -> list[str]:
    query = (
        select(namespaces.c.name)
        .select_from(namespaces.join(organizations).join(teams).join(members))
        .where(teams.c.name == OWNERS, members.c.user_id == user_id)
        .order_by(namespaces.c.name)
    )
    return list(conn.execute(query).scalars())


def user_page(
    conn: Connection, text: str, *, cursor: str | None = None, offset: int = 0, limit: int
) -> UserPage:
    """Users whose name, email or full name contains ``text`` (lowercase), by name: after or before
    ``cursor`` when given (``InvalidCursor`` when it is not one of this listing's), else after
    ``offset`` users."""
    where = []
    if text:
        where.append(
            or_(
                namespaces.c.name.contains(text, autoescape=True),
                func.lower(users.c.email).contains(text, autoescape=True),
                func.lower(users.c.full_name).contains(text, autoescape=True),
            )
        )
    query = (
        select(
            namespaces.c.name,
            users.c.email,
            users.c.full_name,
            users.c.is_admin,
            users.c.disabled_at,
            users.c.created_at,
            users.c.last_login_at,
        )
        .select_from(users.join(namespaces))
        .where(*where)
    )
    query, window = USER_ORDER.page(query, conn, cursor=cursor, offset=offset, limit=limit)
    rows, cursors = window.cut(conn.execute(query).all())
    found = [
        UserListing(
            r.name,
            r.email,
            r.full_name,
            bool(r.is_admin),
            r.disabled_at is not None,
            utc(r.created_at),
            None if r.last_login_at is None else utc(r.last_login_at),
        )
        for r in rows
    ]
    count = conn.execute(select(func.count()).select_from(users.join(namespaces)).where(*where)).scalar_one()
    return UserPage(found, int(count), cursors)


def audit_page(
    conn: Connection,
    *,
    kind: str = "",
    actor: str = "",
    target: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """The audit log newest first, keyset-paged by id (``before``): ``limit`` events at most.
    ``target`` is a substring; ``since`` inclusive, ``until`` exclusive."""
    query = select(events).order_by(events.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(events.c.id < before)
    if kind:
        query = query.where(events.c.kind == kind)
    if actor:
        query = query.where(events.c.actor == actor)
    if target:
        query = query.where(events.c.target.contains(target, autoescape=True))
    if since is not None:
        query = query.where(events.c.created_at >= since)
    if until is not None:
        query = query.where(events.c.created_at < until)
    return [
        AuditEvent(r.id, utc(r.created_at), r.kind, r.actor, r.ip, r.target, dict(r.detail or {}))
        for r in conn.execute(query).all()
    ]


def audit_kinds(conn: Connection) -> list[str]:
    return list(conn.execute(select(events.c.kind).distinct().order_by(events.c.kind)).scalars())
