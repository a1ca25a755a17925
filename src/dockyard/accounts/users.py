"""Users: accounts, passwords, administrators, a namespace's default visibility."""

from __future__ import annotations

from sqlalchemy import func, select, update

from dockyard.accounts import _queries as q
from dockyard.accounts import credentials, names
from dockyard.accounts._queries import USERS, namespaces, users
from dockyard.accounts.audit import write_event
from dockyard.accounts.errors import NotFound
from dockyard.accounts.records import EventKind, User
from dockyard.db.engine import offload


class Users(q.ServicePart):
    @offload
    def create_user(
        self, name: str, email: str, password: str, *, admin: bool = False, actor: str | None = None
    ) -> User:
        """A new account. The name follows the Docker ID rules; the password is Argon2id-hashed."""
        names.validate_docker_id(name)
        email = q.validate_email(email)
        credentials.validate_password(password)
        with self.db.read.connect() as conn:
            q.check_free(conn, name)  # fail fast, before spending a hash on it
        password_hash = self.passwords.hash(password)  # never hash while holding the write lock
        now = q.now()
        with self.db.write.begin() as conn:
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
            write_event(conn, EventKind.USER_CREATED, actor=actor, target=name, detail={"admin": admin})
            user = q.user(conn, name)
        assert user is not None
        return user

    @offload
    def set_password(self, username: str, password: str, *, actor: str | None = None) -> None:
        credentials.validate_password(password)
        password_hash = self.passwords.hash(password)
        with self.db.write.begin() as conn:
            user = q.require_user(conn, username)
            conn.execute(update(users).where(users.c.id == user.id).values(password_hash=password_hash))
            write_event(conn, EventKind.PASSWORD_CHANGED, actor=actor, target=username, detail={})

    @offload
    def get_user(self, username: str) -> User | None:
        with self.db.read.connect() as conn:
            return q.user(conn, username)

    @offload
    def list_users(self) -> list[User]:
        with self.db.read.connect() as conn:
            rows = conn.execute(USERS.order_by(namespaces.c.name)).all()
        return [q.user_record(row) for row in rows]

    @offload
    def user_count(self) -> int:
        with self.db.read.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())

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
