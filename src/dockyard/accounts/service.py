"""AccountService: users, organisations, teams, repositories' visibility, access tokens, audit log.

Every public method is one synchronous unit of database work run on a worker thread
(``@offload``), as in registry/store.py: reads on ``db.read``, writes in one ``db.write``
transaction (BEGIN IMMEDIATE on SQLite, so check-then-insert does not race). Password hashing
never happens inside a transaction. Methods return the frozen records of records.py and raise
the errors of errors.py. Changes to permissions, visibility and tokens write their audit event
in the same transaction as the change; login events are the caller's to record, since only the
caller knows the client's address and whether a request was a login.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, false, func, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from dockyard.accounts import credentials, names, policy
from dockyard.accounts.credentials import Passwords
from dockyard.accounts.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from dockyard.accounts.records import (
    TOKEN_PREFIX,
    AccessToken,
    AuditEvent,
    CatalogPage,
    EventKind,
    Organization,
    Permission,
    Principal,
    RepositoryInfo,
    Team,
    TeamPermission,
    User,
)
from dockyard.db import models
from dockyard.db.engine import Database, offload

namespaces = cast(Table, models.Namespace.__table__)
users = cast(Table, models.User.__table__)
organizations = cast(Table, models.Organization.__table__)
teams = cast(Table, models.Team.__table__)
members = cast(Table, models.TeamMember.__table__)
permissions = cast(Table, models.TeamPermission.__table__)
tokens = cast(Table, models.AccessToken.__table__)
events = cast(Table, models.AuditEvent.__table__)
repositories = cast(Table, models.Repository.__table__)

OWNERS = policy.OWNERS_TEAM
PERMISSIONS = ("read", "write", "admin")
MAX_DESCRIPTION = 100
MAX_EMAIL = 254
MAX_LABEL = 100
# last_used_at / last_login_at are refreshed at most this often: a pull with a token is not a write.
TOUCH_INTERVAL = timedelta(seconds=60)
_REDACTED = "[redacted]"
_SECRET_KEYS = ("password", "secret", "plaintext", "authorization", "credential")

USER_COLUMNS = (
    users.c.id,
    namespaces.c.name,
    users.c.email,
    users.c.is_admin,
    namespaces.c.default_private,
    users.c.created_at,
    users.c.last_login_at,
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
).select_from(tokens.join(users).join(namespaces))
ORGS = select(
    organizations.c.id, namespaces.c.name, namespaces.c.default_private, organizations.c.created_at
).select_from(organizations.join(namespaces))


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every value we store is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _stale(value: datetime | None, now: datetime) -> bool:
    last = _aware(value)
    return last is None or now - last >= TOUCH_INTERVAL


class AccountService:
    def __init__(self, database: Database, passwords: Passwords | None = None) -> None:
        self.db = database
        self.passwords = passwords or Passwords()
        self._insert = postgresql.insert if database.dialect == "postgresql" else sqlite.insert

    # -- users ------------------------------------------------------------------------------------

    @offload
    def create_user(
        self, name: str, email: str, password: str, *, admin: bool = False, actor: str | None = None
    ) -> User:
        """A new account. The name follows the Docker ID rules; the password is Argon2id-hashed."""
        names.validate_docker_id(name)
        email = _validate_email(email)
        credentials.validate_password(password)
        with self.db.read.connect() as conn:
            self._check_free(conn, name)  # fail fast, before spending a hash on it
        password_hash = self.passwords.hash(password)  # never hash while holding the write lock
        now = _now()
        with self.db.write.begin() as conn:
            namespace_id = self._claim_namespace(conn, name, "user", now)
            conn.execute(
                users.insert().values(
                    namespace_id=namespace_id,
                    email=email,
                    password_hash=password_hash,
                    is_admin=admin,
                    created_at=now,
                )
            )
            self._event(conn, EventKind.USER_CREATED, actor=actor, target=name, detail={"admin": admin})
            user = self._user(conn, name)
        assert user is not None
        return user

    @offload
    def set_password(self, username: str, password: str, *, actor: str | None = None) -> None:
        credentials.validate_password(password)
        password_hash = self.passwords.hash(password)
        with self.db.write.begin() as conn:
            user = self._require_user(conn, username)
            conn.execute(update(users).where(users.c.id == user.id).values(password_hash=password_hash))
            self._event(conn, EventKind.PASSWORD_CHANGED, actor=actor, target=username, detail={})

    @offload
    def get_user(self, username: str) -> User | None:
        with self.db.read.connect() as conn:
            return self._user(conn, username)

    @offload
    def list_users(self) -> list[User]:
        with self.db.read.connect() as conn:
            rows = conn.execute(USERS.order_by(namespaces.c.name)).all()
        return [_user_record(row) for row in rows]

    @offload
    def user_count(self) -> int:
        with self.db.read.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())

    @offload
    def set_admin(self, username: str, admin: bool, *, actor: str | None = None) -> User:
        with self.db.write.begin() as conn:
            user = self._require_user(conn, username)
            conn.execute(update(users).where(users.c.id == user.id).values(is_admin=admin))
            if user.is_admin != admin:
                self._event(
                    conn, EventKind.ADMIN_CHANGED, actor=actor, target=username, detail={"admin": admin}
                )
            updated = self._user(conn, username)
        assert updated is not None
        return updated

    @offload
    def set_default_private(self, namespace: str, private: bool, *, actor: str | None = None) -> None:
        """Whether repositories created by a push into this user's or organisation's namespace are private."""
        with self.db.write.begin() as conn:
            result = conn.execute(
                update(namespaces).where(namespaces.c.name == namespace).values(default_private=private)
            )
            if not result.rowcount:
                raise NotFound(f"no user or organisation named {namespace!r}")
            self._event(
                conn,
                EventKind.DEFAULT_VISIBILITY_CHANGED,
                actor=actor,
                target=namespace,
                detail={"private": private},
            )

    # -- authentication ---------------------------------------------------------------------------

    @offload
    def authenticate(self, username: str, secret: str) -> Principal | None:
        """The principal for a username and a password or personal access token, else None.

        Unknown users cost one Argon2 verification like known ones, so timing does not tell
        which names exist. Oversized credentials are refused before any work. Tokens must be
        the user's own, unrevoked and unexpired; their last use is recorded.
        """
        if len(username) > 255 or len(secret.encode("utf-8", "surrogatepass")) > credentials.MAX_SECRET_BYTES:
            return None
        if credentials.looks_like_token(secret):
            return self._authenticate_token(username, secret)
        with self.db.read.connect() as conn:
            row = conn.execute(USERS.where(namespaces.c.name == username)).first()
        if row is None:
            self.passwords.waste_time(secret)
            return None
        ok, new_hash = self.passwords.verify(row.password_hash, secret)
        if not ok:
            return None
        now = _now()
        changes: dict[str, Any] = {}
        if new_hash is not None:
            changes["password_hash"] = new_hash
        if _stale(row.last_login_at, now):
            changes["last_login_at"] = now
        if changes:
            with self.db.write.begin() as conn:
                conn.execute(update(users).where(users.c.id == row.id).values(**changes))
        return Principal(username=row.name, user_id=row.id, is_admin=row.is_admin)

    def _authenticate_token(self, username: str, secret: str) -> Principal | None:
        lookup = credentials.token_lookup(secret)
        if lookup is None:
            return None
        with self.db.read.connect() as conn:
            row = conn.execute(TOKENS.where(tokens.c.lookup == lookup)).first()
        if row is None or not credentials.token_matches(secret, row.secret_hash):
            return None
        now = _now()
        if row.username != username or not _token_usable(row, now):
            return None
        if _stale(row.last_used_at, now):
            with self.db.write.begin() as conn:
                conn.execute(update(tokens).where(tokens.c.id == row.id).values(last_used_at=now))
        return _token_principal(row)

    @offload
    def principal_for(self, username: str, *, token_id: int | None = None) -> Principal | None:
        """A fresh principal for an earlier login (a refresh token): None when the user is gone or
        the token used then has been revoked or has expired. Admin rights are re-read."""
        with self.db.read.connect() as conn:
            if token_id is None:
                row = conn.execute(USERS.where(namespaces.c.name == username)).first()
                if row is None:
                    return None
                return Principal(username=row.name, user_id=row.id, is_admin=row.is_admin)
            token = conn.execute(TOKENS.where(tokens.c.id == token_id)).first()
        if token is None or token.username != username or not _token_usable(token, _now()):
            return None
        return _token_principal(token)

    # -- organisations and teams ------------------------------------------------------------------

    @offload
    def create_org(self, name: str, owner: str, *, actor: str | None = None) -> Organization:
        """An organisation whose "owners" team holds ``owner``."""
        names.validate_docker_id(name)
        now = _now()
        with self.db.write.begin() as conn:
            owner_user = self._require_user(conn, owner)
            namespace_id = self._claim_namespace(conn, name, "org", now)
            org_id = _new_id(
                conn.execute(organizations.insert().values(namespace_id=namespace_id, created_at=now))
            )
            owners = teams.insert().values(
                organization_id=org_id, name=OWNERS, description="Organisation owners", created_at=now
            )
            team_id = _new_id(conn.execute(owners))
            conn.execute(members.insert().values(team_id=team_id, user_id=owner_user.id, created_at=now))
            self._event(conn, EventKind.ORG_CREATED, actor=actor, target=name, detail={"owner": owner})
            org = conn.execute(ORGS.where(organizations.c.id == org_id)).one()
        return _org_record(org)

    @offload
    def get_org(self, name: str) -> Organization | None:
        with self.db.read.connect() as conn:
            row = conn.execute(ORGS.where(namespaces.c.name == name)).first()
        return None if row is None else _org_record(row)

    @offload
    def list_orgs(self) -> list[Organization]:
        with self.db.read.connect() as conn:
            rows = conn.execute(ORGS.order_by(namespaces.c.name)).all()
        return [_org_record(row) for row in rows]

    @offload
    def create_team(self, org: str, team: str, description: str = "", *, actor: str | None = None) -> Team:
        names.validate_team_name(team)
        description = _validate_description(description)
        now = _now()
        with self.db.write.begin() as conn:
            org_id = self._require_org(conn, org)
            if self._team_id(conn, org_id, team) is not None:
                raise AlreadyExists(f"organisation {org!r} already has a team {team!r}")
            conn.execute(
                teams.insert().values(
                    organization_id=org_id, name=team, description=description, created_at=now
                )
            )
            self._event(conn, EventKind.TEAM_CREATED, actor=actor, target=f"{org}/{team}", detail={})
            return self._teams(conn, org, org_id, team)[0]

    @offload
    def list_teams(self, org: str) -> list[Team]:
        with self.db.read.connect() as conn:
            return self._teams(conn, org, self._require_org(conn, org))

    @offload
    def add_team_member(self, org: str, team: str, username: str, *, actor: str | None = None) -> bool:
        """Add a user to a team; False when they already were a member."""
        with self.db.write.begin() as conn:
            team_id = self._require_team(conn, org, team)
            user = self._require_user(conn, username)
            if self._is_member(conn, team_id, user.id):
                return False
            conn.execute(members.insert().values(team_id=team_id, user_id=user.id, created_at=_now()))
            self._event(
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
            team_id = self._require_team(conn, org, team)
            user = self._require_user(conn, username)
            if not self._is_member(conn, team_id, user.id):
                raise NotFound(f"{username!r} is not a member of {org}/{team}")
            if team == OWNERS:
                count = conn.execute(select(func.count()).where(members.c.team_id == team_id)).scalar_one()
                if count <= 1:
                    raise Conflict(f"{username!r} is the last owner of {org!r}; add another owner first")
            conn.execute(members.delete().where(members.c.team_id == team_id, members.c.user_id == user.id))
            self._event(
                conn,
                EventKind.TEAM_MEMBER_REMOVED,
                actor=actor,
                target=f"{org}/{team}",
                detail={"user": username},
            )

    @offload
    def set_team_permission(
        self, org: str, team: str, repository: str, permission: str, *, actor: str | None = None
    ) -> TeamPermission:
        """Give a team read, write or admin on one existing repository of its organisation."""
        if permission not in PERMISSIONS:
            raise InvalidInput(f"permission must be one of {', '.join(PERMISSIONS)}, not {permission!r}")
        repository = names.canonical_repository(repository)
        _require_in_org(repository, org)
        with self.db.write.begin() as conn:
            team_id = self._require_team(conn, org, team)
            repo_id = self._require_repository(conn, repository)
            where = and_(permissions.c.team_id == team_id, permissions.c.repository_id == repo_id)
            previous = conn.execute(select(permissions.c.permission).where(where)).scalar_one_or_none()
            if previous is None:
                conn.execute(
                    permissions.insert().values(
                        team_id=team_id, repository_id=repo_id, permission=permission, created_at=_now()
                    )
                )
            else:
                conn.execute(update(permissions).where(where).values(permission=permission))
            if previous != permission:
                detail = {"team": f"{org}/{team}", "permission": permission, "previous": previous}
                self._event(conn, EventKind.PERMISSION_CHANGED, actor=actor, target=repository, detail=detail)
        return TeamPermission(org, team, repository, cast(Permission, permission))

    @offload
    def remove_team_permission(
        self, org: str, team: str, repository: str, *, actor: str | None = None
    ) -> None:
        repository = names.canonical_repository(repository)
        with self.db.write.begin() as conn:
            team_id = self._require_team(conn, org, team)
            repo_id = self._require_repository(conn, repository)
            result = conn.execute(
                permissions.delete().where(
                    permissions.c.team_id == team_id, permissions.c.repository_id == repo_id
                )
            )
            if not result.rowcount:
                raise NotFound(f"team {org}/{team} has no permission on {repository!r}")
            detail = {"team": f"{org}/{team}", "permission": None}
            self._event(conn, EventKind.PERMISSION_CHANGED, actor=actor, target=repository, detail=detail)

    @offload
    def list_team_permissions(self, org: str, team: str | None = None) -> list[TeamPermission]:
        query = (
            select(teams.c.name, repositories.c.name.label("repository"), permissions.c.permission)
            .select_from(permissions.join(teams).join(repositories))
            .order_by(teams.c.name, repositories.c.name)
        )
        with self.db.read.connect() as conn:
            query = query.where(teams.c.organization_id == self._require_org(conn, org))
            if team is not None:
                query = query.where(teams.c.name == team)
            rows = conn.execute(query).all()
        return [TeamPermission(org, row.name, row.repository, row.permission) for row in rows]

    # -- repositories -----------------------------------------------------------------------------

    @offload
    def create_repository(
        self,
        name: str,
        *,
        private: bool | None = None,
        description: str = "",
        full_description: str = "",
        created_by: Principal | str | None = None,
    ) -> RepositoryInfo:
        """A new repository in an existing namespace (or library); visibility defaults to the namespace's."""
        name = names.canonical_repository(name)
        description = _validate_description(description)
        creator = created_by.username if isinstance(created_by, Principal) else created_by
        with self.db.write.begin() as conn:
            namespace = names.namespace_of(name)
            default_private = self._default_private(conn, namespace)
            if default_private is None:
                raise NotFound(f"no user or organisation named {namespace!r}")
            if conn.execute(select(repositories.c.id).where(repositories.c.name == name)).first():
                raise AlreadyExists(f"repository {name!r} already exists")
            is_private = default_private if private is None else private
            conn.execute(
                repositories.insert().values(
                    name=name,
                    created_at=_now(),
                    is_private=is_private,
                    description=description,
                    full_description=full_description,
                    created_by=creator,
                )
            )
            self._event(
                conn, EventKind.REPOSITORY_CREATED, actor=creator, target=name, detail={"private": is_private}
            )
            info = self._repository(conn, name)
        assert info is not None
        return info

    @offload
    def ensure_repository(self, name: str, created_by: Principal | None) -> None:
        """Create the repository if absent, private or public by its namespace's default, as a push
        into a new repository does on Docker Hub. Call it before the registry writes anything."""
        namespace = names.namespace_of(name)
        creator = created_by.username if created_by is not None else None
        with self.db.read.connect() as conn:
            if conn.execute(select(repositories.c.id).where(repositories.c.name == name)).first():
                return
        with self.db.write.begin() as conn:
            is_private = bool(self._default_private(conn, namespace))
            stmt = self._insert(repositories).values(
                name=name, created_at=_now(), is_private=is_private, created_by=creator
            )
            result = conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
            if result.rowcount:
                self._event(
                    conn,
                    EventKind.REPOSITORY_CREATED,
                    actor=creator,
                    target=name,
                    detail={"private": is_private},
                )

    @offload
    def get_repository(self, name: str) -> RepositoryInfo | None:
        with self.db.read.connect() as conn:
            return self._repository(conn, name)

    @offload
    def list_repositories(self, namespace: str | None = None) -> list[RepositoryInfo]:
        query = select(repositories).order_by(repositories.c.name)
        if namespace is not None:
            query = query.where(repositories.c.namespace == namespace)
        with self.db.read.connect() as conn:
            rows = conn.execute(query).all()
        return [_repository_record(row) for row in rows]

    @offload
    def set_visibility(self, name: str, private: bool, *, actor: str | None = None) -> RepositoryInfo:
        with self.db.write.begin() as conn:
            info = self._repository(conn, name)
            if info is None:
                raise NotFound(f"repository {name!r} does not exist")
            if info.is_private != private:
                conn.execute(
                    update(repositories).where(repositories.c.id == info.id).values(is_private=private)
                )
                self._event(
                    conn, EventKind.VISIBILITY_CHANGED, actor=actor, target=name, detail={"private": private}
                )
            updated = self._repository(conn, name)
        assert updated is not None
        return updated

    @offload
    def set_description(
        self, name: str, description: str, full_description: str | None = None, *, actor: str | None = None
    ) -> RepositoryInfo:
        description = _validate_description(description)
        values: dict[str, str] = {"description": description}
        if full_description is not None:
            values["full_description"] = full_description
        with self.db.write.begin() as conn:
            result = conn.execute(update(repositories).where(repositories.c.name == name).values(**values))
            if not result.rowcount:
                raise NotFound(f"repository {name!r} does not exist")
            info = self._repository(conn, name)
        assert info is not None
        return info

    # -- access policy ----------------------------------------------------------------------------

    @offload
    def repository_actions(self, principal: Principal | None, repository: str) -> frozenset[str]:
        """The actions (subset of pull, push, delete) the caller holds on a canonical repository name.

        See policy.py for the table. A private repository without a grant and a missing one in
        someone else's namespace both give the empty set, so the registry answers alike."""
        with self.db.read.connect() as conn:
            facts = self._facts(conn, principal, repository)
        return policy.repository_actions(principal, facts)

    @offload
    def readable_repositories(self, principal: Principal | None, repositories_: Iterable[str]) -> list[str]:
        """The given names the caller may pull, in the given order (for ``_catalog``)."""
        wanted = list(dict.fromkeys(repositories_))
        readable: set[str] = set()
        with self.db.read.connect() as conn:
            condition = self._readable(conn, principal)
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                query = select(repositories.c.name).where(repositories.c.name.in_(chunk), condition)
                readable.update(conn.execute(query).scalars())
        return [name for name in wanted if name in readable]

    @offload
    def catalog(self, principal: Principal | None, limit: int | None, last: str | None) -> CatalogPage:
        """One page of the repositories the caller may pull, sorted bytewise, filtered in SQL so
        pages stay full."""
        collate = "C" if self.db.dialect == "postgresql" else "BINARY"
        ordered = repositories.c.name.collate(collate)
        with self.db.read.connect() as conn:
            query = select(repositories.c.name).where(self._readable(conn, principal)).order_by(ordered)
            if last is not None:
                query = query.where(ordered > last)
            if limit is not None:
                query = query.limit(limit + 1)
            items = list(conn.execute(query).scalars())
        if limit is not None and len(items) > limit:
            items = items[:limit]
            return CatalogPage(items, items[-1] if items else None)
        return CatalogPage(items, None)

    def _facts(
        self, conn: Connection, principal: Principal | None, repository: str
    ) -> policy.RepositoryFacts:
        namespace = names.namespace_of(repository)
        repo = conn.execute(
            select(repositories.c.id, repositories.c.is_private).where(repositories.c.name == repository)
        ).first()
        exists, is_private = repo is not None, bool(repo.is_private) if repo is not None else False
        if principal is None or principal.is_admin:
            return policy.RepositoryFacts(exists=exists, is_private=is_private)
        if namespace == principal.username:
            return policy.RepositoryFacts(exists, is_private, namespace_is_caller=True)
        held = conn.execute(
            select(teams.c.id, teams.c.name)
            .select_from(members.join(teams).join(organizations).join(namespaces))
            .where(members.c.user_id == principal.user_id, namespaces.c.name == namespace)
        ).all()
        if any(team.name == OWNERS for team in held):
            return policy.RepositoryFacts(exists, is_private, org_owner=True)
        granted: frozenset[str] = frozenset()
        if repo is not None and held:
            granted = frozenset(
                conn.execute(
                    select(permissions.c.permission).where(
                        permissions.c.repository_id == repo.id,
                        permissions.c.team_id.in_([team.id for team in held]),
                    )
                ).scalars()
            )
        return policy.RepositoryFacts(exists, is_private, team_permissions=granted)

    def _readable(self, conn: Connection, principal: Principal | None) -> ColumnElement[bool]:
        """SQL for "the caller may pull this existing repository": the policy's pull rule."""
        public = repositories.c.is_private == false()
        if principal is None:
            return public
        scopes = principal.token_scopes
        if scopes is not None and scopes <= {"repo:public_read"}:
            return public
        if principal.is_admin:
            return true()
        owned_orgs = (
            select(namespaces.c.name)
            .select_from(namespaces.join(organizations).join(teams).join(members))
            .where(teams.c.name == OWNERS, members.c.user_id == principal.user_id)
        )
        granted = (
            select(permissions.c.repository_id)
            .select_from(permissions.join(members, members.c.team_id == permissions.c.team_id))
            .where(members.c.user_id == principal.user_id)
        )
        return or_(
            public,
            repositories.c.namespace == principal.username,
            repositories.c.namespace.in_(owned_orgs),
            repositories.c.id.in_(granted),
        )

    # -- personal access tokens -------------------------------------------------------------------

    @offload
    def create_token(
        self,
        username: str,
        label: str,
        scopes: Iterable[str],
        expires_at: datetime | None = None,
        *,
        actor: str | None = None,
    ) -> tuple[AccessToken, str]:
        """A new personal access token and its plaintext, which is returned this once only."""
        wanted = credentials.normalize_scopes(scopes)
        label = label.strip()
        if not label or len(label) > MAX_LABEL:
            raise InvalidInput(f"token labels are 1 to {MAX_LABEL} characters")
        now = _now()
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise InvalidInput("expires_at must be timezone-aware")
            if expires_at <= now:
                raise InvalidInput("expires_at must be in the future")
        plaintext, lookup, secret_hash = credentials.new_token()
        with self.db.write.begin() as conn:
            user = self._require_user(conn, username)
            insert = tokens.insert().values(
                user_id=user.id,
                label=label,
                scopes=" ".join(sorted(wanted)),
                lookup=lookup,
                secret_hash=secret_hash,
                created_at=now,
                expires_at=expires_at,
            )
            token_id = _new_id(conn.execute(insert))
            detail = {
                "token_id": token_id,
                "label": label,
                "scopes": sorted(wanted),
                "expires_at": expires_at.isoformat() if expires_at else None,
            }
            self._event(conn, EventKind.TOKEN_CREATED, actor=actor, target=username, detail=detail)
            row = conn.execute(TOKENS.where(tokens.c.id == token_id)).one()
        return _token_record(row), plaintext

    @offload
    def list_tokens(self, username: str) -> list[AccessToken]:
        with self.db.read.connect() as conn:
            self._require_user(conn, username)
            rows = conn.execute(TOKENS.where(namespaces.c.name == username).order_by(tokens.c.id)).all()
        return [_token_record(row) for row in rows]

    @offload
    def revoke_token(self, username: str, token_id: int, *, actor: str | None = None) -> AccessToken:
        with self.db.write.begin() as conn:
            row = conn.execute(TOKENS.where(tokens.c.id == token_id, namespaces.c.name == username)).first()
            if row is None:
                raise NotFound(f"{username!r} has no access token {token_id}")
            if row.revoked_at is None:
                conn.execute(update(tokens).where(tokens.c.id == token_id).values(revoked_at=_now()))
                detail = {"token_id": token_id, "label": row.label}
                self._event(conn, EventKind.TOKEN_REVOKED, actor=actor, target=username, detail=detail)
            row = conn.execute(TOKENS.where(tokens.c.id == token_id)).one()
        return _token_record(row)

    # -- audit log --------------------------------------------------------------------------------

    @offload
    def record_event(
        self,
        kind: str,
        *,
        actor: str | None = None,
        ip: str | None = None,
        target: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Append a security event (login.success, login.failure, push, delete, ...).

        Values under keys that name secrets, and anything shaped like an access token, are
        replaced by "[redacted]" before they reach the database."""
        with self.db.write.begin() as conn:
            self._event(conn, kind, actor=actor, ip=ip, target=target, detail=detail or {})

    @offload
    def list_events(
        self,
        limit: int = 100,
        kind: str | None = None,
        actor: str | None = None,
        target: str | None = None,
    ) -> list[AuditEvent]:
        """The newest events first."""
        query = select(events).order_by(events.c.id.desc()).limit(max(1, min(limit, 10_000)))
        if kind is not None:
            query = query.where(events.c.kind == kind)
        if actor is not None:
            query = query.where(events.c.actor == actor)
        if target is not None:
            query = query.where(events.c.target == target)
        with self.db.read.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditEvent(r.id, _utc(r.created_at), r.kind, r.actor, r.ip, r.target, dict(r.detail or {}))
            for r in rows
        ]

    def _event(
        self,
        conn: Connection,
        kind: str,
        *,
        actor: str | None,
        target: str | None,
        detail: Mapping[str, Any],
        ip: str | None = None,
    ) -> None:
        conn.execute(
            events.insert().values(
                created_at=_now(),
                kind=kind[:64],
                actor=_scrub(actor)[:64] if actor else None,
                ip=ip[:64] if ip else None,
                target=_scrub(target)[:255] if target else None,
                detail=_scrub_detail(detail),
            )
        )

    # -- shared lookups (inside a caller's connection) --------------------------------------------

    @staticmethod
    def _check_free(conn: Connection, name: str) -> None:
        taken = conn.execute(select(namespaces.c.kind).where(namespaces.c.name == name)).scalar_one_or_none()
        if taken is not None:
            what = "a user" if taken == "user" else "an organisation"
            raise AlreadyExists(f"{name!r} is already taken by {what}")

    def _claim_namespace(self, conn: Connection, name: str, kind: str, now: datetime) -> int:
        self._check_free(conn, name)
        try:
            result = conn.execute(namespaces.insert().values(name=name, kind=kind, created_at=now))
        except IntegrityError:  # a concurrent claim where transactions do not take the lock up front
            raise AlreadyExists(f"{name!r} is already taken") from None
        return _new_id(result)

    def _user(self, conn: Connection, username: str) -> User | None:
        row = conn.execute(USERS.where(namespaces.c.name == username)).first()
        return None if row is None else _user_record(row)

    def _require_user(self, conn: Connection, username: str) -> User:
        user = self._user(conn, username)
        if user is None:
            raise NotFound(f"no user named {username!r}")
        return user

    def _require_org(self, conn: Connection, org: str) -> int:
        org_id = conn.execute(
            select(organizations.c.id)
            .select_from(organizations.join(namespaces))
            .where(namespaces.c.name == org)
        ).scalar_one_or_none()
        if org_id is None:
            raise NotFound(f"no organisation named {org!r}")
        return int(org_id)

    def _team_id(self, conn: Connection, org_id: int, team: str) -> int | None:
        return conn.execute(
            select(teams.c.id).where(teams.c.organization_id == org_id, teams.c.name == team)
        ).scalar_one_or_none()

    def _require_team(self, conn: Connection, org: str, team: str) -> int:
        team_id = self._team_id(conn, self._require_org(conn, org), team)
        if team_id is None:
            raise NotFound(f"organisation {org!r} has no team {team!r}")
        return team_id

    def _teams(self, conn: Connection, org: str, org_id: int, team: str | None = None) -> list[Team]:
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
            Team(row.id, org, row.name, row.description, _utc(row.created_at), tuple(by_team.get(row.id, ())))
            for row in rows
        ]

    @staticmethod
    def _is_member(conn: Connection, team_id: int, user_id: int) -> bool:
        query = select(members.c.team_id).where(members.c.team_id == team_id, members.c.user_id == user_id)
        return conn.execute(query).first() is not None

    def _repository(self, conn: Connection, name: str) -> RepositoryInfo | None:
        row = conn.execute(select(repositories).where(repositories.c.name == name)).first()
        return None if row is None else _repository_record(row)

    def _require_repository(self, conn: Connection, name: str) -> int:
        repo_id = conn.execute(
            select(repositories.c.id).where(repositories.c.name == name)
        ).scalar_one_or_none()
        if repo_id is None:
            raise NotFound(
                f"repository {name!r} does not exist; create it with `dockyard repo create {name}`"
            )
        return int(repo_id)

    def _default_private(self, conn: Connection, namespace: str) -> bool | None:
        """The namespace's default visibility; library is public; None when there is no such namespace."""
        if namespace == "library":
            return False
        value = conn.execute(
            select(namespaces.c.default_private).where(namespaces.c.name == namespace)
        ).scalar_one_or_none()
        return None if value is None else bool(value)


# -- rows to records --------------------------------------------------------------------------------


def _user_record(row: Any) -> User:
    return User(
        id=row.id,
        username=row.name,
        email=row.email,
        is_admin=bool(row.is_admin),
        default_private=bool(row.default_private),
        created_at=_utc(row.created_at),
        last_login_at=_aware(row.last_login_at),
    )


def _org_record(row: Any) -> Organization:
    return Organization(row.id, row.name, bool(row.default_private), _utc(row.created_at))


def _repository_record(row: Any) -> RepositoryInfo:
    return RepositoryInfo(
        id=row.id,
        name=row.name,
        namespace=row.namespace or names.namespace_of(row.name),
        is_private=bool(row.is_private),
        description=row.description,
        full_description=row.full_description,
        created_at=_utc(row.created_at),
        pushed_at=_aware(row.pushed_at),
        created_by=row.created_by,
    )


def _token_record(row: Any) -> AccessToken:
    return AccessToken(
        id=row.id,
        username=row.username,
        label=row.label,
        scopes=frozenset(row.scopes.split()),
        created_at=_utc(row.created_at),
        expires_at=_aware(row.expires_at),
        last_used_at=_aware(row.last_used_at),
        revoked=row.revoked_at is not None,
        hint=credentials.token_hint(row.lookup),
    )


def _token_usable(row: Any, now: datetime) -> bool:
    expires_at = _aware(row.expires_at)
    return row.revoked_at is None and (expires_at is None or expires_at > now)


def _token_principal(row: Any) -> Principal:
    return Principal(
        username=row.username,
        user_id=row.user_id,
        is_admin=bool(row.is_admin),
        token_id=row.id,
        token_scopes=frozenset(row.scopes.split()),
    )


# -- validation and scrubbing -----------------------------------------------------------------------


def _validate_email(email: str) -> str:
    email = (email or "").strip()
    if email and (len(email) > MAX_EMAIL or email.count("@") != 1 or any(c.isspace() for c in email)):
        raise InvalidInput(f"{email!r} is not an email address")
    return email


def _validate_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"short descriptions are at most {MAX_DESCRIPTION} characters")
    return description


def _require_in_org(repository: str, org: str) -> None:
    if names.namespace_of(repository) != org:
        raise InvalidInput(f"{repository!r} is not a repository of organisation {org!r}")


def _scrub(value: str) -> str:
    return _REDACTED if TOKEN_PREFIX in value else value


def _scrub_detail(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            str(key): _REDACTED
            if any(word in str(key).lower() for word in _SECRET_KEYS) or str(key).lower() == "token"
            else _scrub_detail(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_scrub_detail(item) for item in value]
    if isinstance(value, str):
        return _scrub(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)
