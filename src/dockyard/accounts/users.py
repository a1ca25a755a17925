"""Users: accounts, passwords, administrators, disabling and deleting, a namespace's default visibility.

A password change or disabling increments the account's credentials version, which every session
and token a password login issued carries: all of those stop working at once. Personal access
tokens are credentials of their own and survive a password change (revoke them one by one); a
disabled account's tokens fail with the account, and work again if it is enabled. Deleting an
account keeps its name as a retired namespace that nobody can sign up with again.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from dockyard.accounts import _queries as q
from dockyard.accounts import credentials, limits, names, readmodels
from dockyard.accounts._queries import (
    OWNERS,
    USERS,
    members,
    namespaces,
    organizations,
    teams,
    tokens,
    users,
)
from dockyard.accounts.audit import write_event
from dockyard.accounts.errors import Conflict, InvalidInput, NotFound
from dockyard.accounts.records import EventKind, Profile, User
from dockyard.db.engine import offload
from dockyard.registry import repository_rows

SIGNUPS = "sign-ups from your address"
PROFILE_FIELDS = ("full_name", "location", "company", "website")
PROFILE_LIMITS = {"full_name": 100, "location": 100, "company": 100, "website": 255}


class Users(q.ServicePart):
    @offload
    def create_user(
        self,
        name: str,
        email: str,
        password: str,
        *,
        admin: bool = False,
        actor: str | None = None,
        signup_address: str | None = None,
    ) -> User:
        """A new account. The name follows the Docker ID rules; the password is Argon2id-hashed.

        ``signup_address``: someone signing themselves up from this client address, which the
        sign-up limit counts (RateLimited past it); administrators' accounts pass none."""
        names.validate_docker_id(name)
        email = q.validate_email(email)
        credentials.validate_password(password)
        key = limits.signup_key(signup_address) if signup_address is not None else None
        window = self.limits.signups_per_address
        with self.db.read.connect() as conn:
            if key is not None:  # a flood is refused here, before any hashing
                limits.check(conn, key, window, q.now(), SIGNUPS)
            q.check_free(conn, name)  # fail fast, before spending a hash on it
        password_hash = self.passwords.hash(password)  # never hash while holding the write lock
        now = q.now()
        with self.db.write.begin() as conn:
            if key is not None:
                limits.take(conn, key, window, now, SIGNUPS)
            namespace_id = q.claim_namespace(conn, name, "user", now)
            conn.execute(
                users.insert().values(
                    namespace_id=namespace_id,
                    email=email,
                    password_hash=password_hash,
                    is_admin=admin,
                    created_at=now,
                )
            )
            write_event(
                conn,
                EventKind.USER_CREATED,
                actor=actor,
                target=name,
                detail={"admin": admin},
                ip=signup_address,
            )
            user = q.user(conn, name)
        assert user is not None
        return user

    @offload
    def set_password(self, username: str, password: str, *, actor: str | None = None) -> None:
        """A new password; every session and token a password login issued before ends with it."""
        credentials.validate_password(password)
        password_hash = self.passwords.hash(password)
        with self.db.write.begin() as conn:
            user = q.require_user(conn, username)
            conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(password_hash=password_hash, credentials_version=users.c.credentials_version + 1)
            )
            write_event(conn, EventKind.PASSWORD_CHANGED, actor=actor, target=username, detail={})

    @offload
    def update_profile(
        self, username: str, profile: Profile, email: str, *, actor: str | None = None
    ) -> User:
        """Save what the user tells others (full name, location, company, website) and their
        email. The audit event names the fields that changed; an email change keeps its old and
        new address, since it is where the account can be reached."""
        profile = validate_profile(profile)
        email = q.validate_email(email)
        with self.db.write.begin() as conn:
            user = q.require_user(conn, username)
            values = {name: getattr(profile, name) for name in PROFILE_FIELDS}
            changed = sorted(n for n, v in values.items() if getattr(user.profile, n) != v)
            detail: dict[str, object] = {"fields": changed}
            if email != user.email:
                changed.append("email")
                detail["email"] = {"from": user.email, "to": email}
            if changed:
                conn.execute(update(users).where(users.c.id == user.id).values(email=email, **values))
                write_event(conn, EventKind.PROFILE_CHANGED, actor=actor, target=username, detail=detail)
            updated = q.user(conn, username)
        assert updated is not None
        return updated

    @offload
    def set_disabled(self, username: str, disabled: bool, *, actor: str | None = None) -> User:
        """Disable an account (no login on any door; its sessions and tokens stop working), or
        enable it again. Sessions and password-based tokens stay ended after enabling; personal
        access tokens work again."""
        with self.db.write.begin() as conn:
            user = q.require_user(conn, username)
            if user.disabled != disabled:
                values: dict[str, object] = {"disabled_at": q.now() if disabled else None}
                if disabled:
                    values["credentials_version"] = users.c.credentials_version + 1
                conn.execute(update(users).where(users.c.id == user.id).values(**values))
                kind = EventKind.USER_DISABLED if disabled else EventKind.USER_ENABLED
                write_event(conn, kind, actor=actor, target=username, detail={})
            updated = q.user(conn, username)
        assert updated is not None
        return updated

    @offload
    def delete_user(self, username: str, *, actor: str | None = None) -> None:
        """Delete an account: its tokens, sessions, team memberships and stars go with it. Refused
        while its namespace holds repositories (delete those first, so each goes the way every
        repository deletion goes) or while it is the last owner of an organisation. The name is
        retired, never given out again: whoever took it would receive the old owner's pulls."""
        with self.db.write.begin() as conn:
            user = q.require_user(conn, username)
            held = repository_rows.held(conn, username)
            if held:
                raise Conflict(f"{username!r} still has {held} repositories; delete them first")
            orphaned = _orgs_only_owned_by(conn, user.id)
            if orphaned:
                raise Conflict(
                    f"{username!r} is the last owner of {', '.join(orphaned)}; add another owner first"
                )
            conn.execute(delete(tokens).where(tokens.c.user_id == user.id))
            conn.execute(delete(members).where(members.c.user_id == user.id))
            conn.execute(delete(users).where(users.c.id == user.id))  # sessions and stars cascade
            conn.execute(update(namespaces).where(namespaces.c.name == username).values(kind=q.RETIRED))
            write_event(conn, EventKind.USER_DELETED, actor=actor, target=username, detail={})

    @offload
    def last_owner_of(self, username: str) -> list[str]:
        """The organisations whose only owner this user is (deleting the account is refused)."""
        with self.db.read.connect() as conn:
            user = q.require_user(conn, username)
            return _orgs_only_owned_by(conn, user.id)

    @offload
    def get_user(self, username: str) -> User | None:
        with self.db.read.connect() as conn:
            return q.user(conn, username)

    @offload
    def user_ids(self, usernames: Iterable[str | None]) -> dict[str, int]:
        """The ids of the accounts by these names; a deleted account's name has none."""
        wanted = sorted({name for name in usernames if name})
        if not wanted:
            return {}
        query = select(namespaces.c.name, users.c.id).select_from(users.join(namespaces))
        with self.db.read.connect() as conn:
            rows = conn.execute(query.where(namespaces.c.name.in_(wanted))).all()
        return {name: int(user_id) for name, user_id in rows}

    @offload
    def list_users(self) -> list[User]:
        with self.db.read.connect() as conn:
            rows = conn.execute(USERS.order_by(namespaces.c.name)).all()
        return [q.user_record(row) for row in rows]

    @offload
    def user_count(self) -> int:
        with self.db.read.connect() as conn:
            return readmodels.user_count(conn)

    @offload
    def set_admin(self, username: str, admin: bool, *, actor: str | None = None) -> User:
        with self.db.write.begin() as conn:
            user = q.require_user(conn, username)
            conn.execute(update(users).where(users.c.id == user.id).values(is_admin=admin))
            if user.is_admin != admin:
                write_event(
                    conn, EventKind.ADMIN_CHANGED, actor=actor, target=username, detail={"admin": admin}
                )
            updated = q.user(conn, username)
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
            write_event(
                conn,
                EventKind.DEFAULT_VISIBILITY_CHANGED,
                actor=actor,
                target=namespace,
                detail={"private": private},
            )


def _orgs_only_owned_by(conn: Connection, user_id: int) -> list[str]:
    """The organisations whose owners team holds this user and nobody else."""
    owners_teams = (
        select(teams.c.id, namespaces.c.name)
        .select_from(teams.join(organizations).join(namespaces))
        .where(
            teams.c.name == OWNERS,
            teams.c.id.in_(select(members.c.team_id).where(members.c.user_id == user_id)),
        )
        .subquery()
    )
    counts = conn.execute(
        select(owners_teams.c.name, func.count())
        .select_from(owners_teams.join(members, members.c.team_id == owners_teams.c.id))
        .group_by(owners_teams.c.name)
    ).all()
    return sorted(name for name, count in counts if count <= 1)


def validate_profile(profile: Profile) -> Profile:
    """Each field stripped and within its length, no control characters; the website an http or
    https address (shown as a link: never javascript: or data:)."""
    values = {}
    for name in PROFILE_FIELDS:
        value = getattr(profile, name).strip()
        label = name.replace("_", " ")
        if len(value) > PROFILE_LIMITS[name]:
            raise InvalidInput(f"the {label} is at most {PROFILE_LIMITS[name]} characters")
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise InvalidInput(f"the {label} may not hold control characters")
        values[name] = value
    website = values["website"]
    if website:
        if "://" not in website:
            if ":" in website.split("/", 1)[0]:  # a scheme of its own (javascript:, data:, ...)
                raise InvalidInput("the website is an http:// or https:// address")
            website = values["website"] = f"https://{website}"
        try:
            parts = urlsplit(website)
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError:
            raise InvalidInput(f"{website!r} is not a web address") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in website:
            raise InvalidInput("the website is an http:// or https:// address")
        if len(website) > PROFILE_LIMITS["website"]:
            raise InvalidInput(f"the website is at most {PROFILE_LIMITS['website']} characters")
    return Profile(**values)
