"""What the parts of AccountService share: tables, selects, rows to records, lookups, validation.

Lookups run inside the caller's connection or transaction (``conn``), so a method's reads and
writes stay one unit of work. Everything here is private to the accounts package.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.exc import IntegrityError

from dockyard.accounts import credentials, names, policy
from dockyard.accounts.credentials import Passwords
from dockyard.accounts.errors import AlreadyExists, InvalidInput, NotFound
from dockyard.accounts.records import (
    AccessToken,
    Organization,
    Principal,
    Profile,
    RepositoryInfo,
    User,
)
from dockyard.clock import utc as utc  # re-exported: the accounts modules take it from here
from dockyard.db import models
from dockyard.db.engine import Database
from dockyard.registry import repository_rows

if TYPE_CHECKING:
    from dockyard.accounts.limits import CreationLimits

namespaces = cast(Table, models.Namespace.__table__)
users = cast(Table, models.User.__table__)
organizations = cast(Table, models.Organization.__table__)
teams = cast(Table, models.Team.__table__)
members = cast(Table, models.TeamMember.__table__)
permissions = cast(Table, models.TeamPermission.__table__)
org_members = cast(Table, models.OrganizationMember.__table__)
collaborators = cast(Table, models.RepositoryCollaborator.__table__)
tokens = cast(Table, models.AccessToken.__table__)
events = cast(Table, models.AuditEvent.__table__)

OWNERS = policy.OWNERS_TEAM
RETIRED = "retired"  # the namespace kind of a deleted account's name: taken for good
PERMISSIONS = ("read", "write", "admin")
MAX_DESCRIPTION = 100
MAX_EMAIL = 254
MAX_LABEL = 100
# last_used_at / last_login_at are refreshed at most this often: a pull with a token is not a write.
TOUCH_INTERVAL = timedelta(seconds=60)

USER_COLUMNS = (
    users.c.id,
    namespaces.c.name,
    users.c.email,
    users.c.is_admin,
    namespaces.c.default_private,
    users.c.created_at,
    users.c.last_login_at,
    users.c.disabled_at,
    users.c.credentials_version,
    users.c.full_name,
    users.c.location,
    users.c.company,
    users.c.website,
)
USERS = select(*USER_COLUMNS, users.c.password_hash).select_from(users.join(namespaces))
TOKENS = select(
    tokens.c.id,
    namespaces.c.name.label("username"),
    tokens.c.user_id,
    users.c.is_admin,
    tokens.c.label,
    tokens.c.scopes,
    tokens.c.lookup,
    tokens.c.secret_hash,
    tokens.c.created_at,
    tokens.c.expires_at,
    tokens.c.last_used_at,
    tokens.c.revoked_at,
    users.c.disabled_at,
).select_from(tokens.join(users).join(namespaces))
ORGS = select(
    organizations.c.id, namespaces.c.name, namespaces.c.default_private, organizations.c.created_at
).select_from(organizations.join(namespaces))


class ServicePart:
    """The state every part of AccountService works with; ``AccountService.__init__`` sets it."""

    db: Database
    passwords: Passwords
    limits: CreationLimits
    inline_lookups: bool  # point reads run inline on SQLite (db.engine.lookup)


# -- time and keys ------------------------------------------------------------------------------------


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def stale(value: datetime | None, when: datetime) -> bool:
    last = aware(value)
    return last is None or when - last >= TOUCH_INTERVAL


# -- lookups (inside a caller's connection) -----------------------------------------------------------


def check_free(conn: Connection, name: str) -> None:
    taken = conn.execute(select(namespaces.c.kind).where(namespaces.c.name == name)).scalar_one_or_none()
    if taken == RETIRED:
        raise AlreadyExists(f"{name!r} belonged to a deleted account and is not given out again")
    if taken is not None:
        what = "a user" if taken == "user" else "an organisation"
        raise AlreadyExists(f"{name!r} is already taken by {what}")


def claim_namespace(conn: Connection, name: str, kind: str, when: datetime) -> int:
    check_free(conn, name)
    try:
        result = conn.execute(namespaces.insert().values(name=name, kind=kind, created_at=when))
    except IntegrityError:  # a concurrent claim where transactions do not take the lock up front
        raise AlreadyExists(f"{name!r} is already taken") from None
    return new_id(result)


def user(conn: Connection, username: str) -> User | None:
    row = conn.execute(USERS.where(namespaces.c.name == username)).first()
    return None if row is None else user_record(row)


def require_user(conn: Connection, username: str) -> User:
    found = user(conn, username)
    if found is None:
        raise NotFound(f"no user named {username!r}")
    return found


def require_org(conn: Connection, org: str) -> int:
    org_id = conn.execute(
        select(organizations.c.id).select_from(organizations.join(namespaces)).where(namespaces.c.name == org)
    ).scalar_one_or_none()
    if org_id is None:
        raise NotFound(f"no organisation named {org!r}")
    return int(org_id)


def team_id(conn: Connection, org_id: int, team: str) -> int | None:
    return conn.execute(
        select(teams.c.id).where(teams.c.organization_id == org_id, teams.c.name == team)
    ).scalar_one_or_none()


def require_team(conn: Connection, org: str, team: str) -> int:
    found = team_id(conn, require_org(conn, org), team)
    if found is None:
        raise NotFound(f"organisation {org!r} has no team {team!r}")
    return found


def repository(conn: Connection, name: str) -> RepositoryInfo | None:
    return repository_rows.row(conn, name)


def require_repository(conn: Connection, name: str) -> int:
    found = repository_rows.visibility(conn, name)
    if found is None:
        raise NotFound(f"repository {name!r} does not exist; create it with `dockyard repo create {name}`")
    return found.id


def default_private(conn: Connection, namespace: str) -> bool | None:
    """The namespace's default visibility; library is public; None when there is no such namespace."""
    if namespace == "library":
        return False
    value = conn.execute(
        select(namespaces.c.default_private).where(
            namespaces.c.name == namespace, namespaces.c.kind != RETIRED
        )
    ).scalar_one_or_none()
    return None if value is None else bool(value)


# -- rows to records ----------------------------------------------------------------------------------


def user_record(row: Any) -> User:
    return User(
        id=row.id,
        username=row.name,
        email=row.email,
        is_admin=bool(row.is_admin),
        default_private=bool(row.default_private),
        created_at=utc(row.created_at),
        last_login_at=aware(row.last_login_at),
        disabled_at=aware(row.disabled_at),
        profile=Profile(row.full_name, row.location, row.company, row.website),
    )


def org_record(row: Any) -> Organization:
    return Organization(row.id, row.name, bool(row.default_private), utc(row.created_at))


def token_record(row: Any) -> AccessToken:
    return AccessToken(
        id=row.id,
        username=row.username,
        label=row.label,
        scopes=frozenset(row.scopes.split()),
        created_at=utc(row.created_at),
        expires_at=aware(row.expires_at),
        last_used_at=aware(row.last_used_at),
        revoked=row.revoked_at is not None,
        hint=credentials.token_hint(row.lookup),
    )


def token_usable(row: Any, when: datetime) -> bool:
    """Unrevoked, unexpired, and its account not disabled (``row`` from TOKENS)."""
    expires_at = aware(row.expires_at)
    return row.revoked_at is None and row.disabled_at is None and (expires_at is None or expires_at > when)


def password_principal(row: Any) -> Principal:
    """The principal of a password login (``row`` from USERS)."""
    return Principal(
        username=row.name,
        user_id=row.id,
        is_admin=bool(row.is_admin),
        credentials_version=int(row.credentials_version),
    )


def token_principal(row: Any) -> Principal:
    return Principal(
        username=row.username,
        user_id=row.user_id,
        is_admin=bool(row.is_admin),
        token_id=row.id,
        token_scopes=frozenset(row.scopes.split()),
    )


# -- validation ---------------------------------------------------------------------------------------


def validate_email(email: str) -> str:
    email = (email or "").strip()
    if email and (len(email) > MAX_EMAIL or email.count("@") != 1 or any(c.isspace() for c in email)):
        raise InvalidInput(f"{email!r} is not an email address")
    return email


def validate_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"short descriptions are at most {MAX_DESCRIPTION} characters")
    return description


def require_in_org(repository: str, org: str) -> None:
    if names.namespace_of(repository) != org:
        raise InvalidInput(f"{repository!r} is not a repository of organisation {org!r}")
