"""Server-side browser sessions, revocable: the cookie holds a random id, the table its SHA-256.

Logging out deletes the row, so a stolen cookie dies with it. A session also ends when its account
is disabled or deleted, or when the account's password changes: each row keeps the credentials
version of the login that made it, and only a row matching the account's current one is a session.
Each session carries its own CSRF token; visitors without a session get one from a short cookie
of their own (double submit).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, delete, select, update

from dockyard.accounts import readmodels as accounts_views
from dockyard.accounts.records import Principal
from dockyard.clock import utc
from dockyard.db.engine import Database, lookup, offload
from dockyard.web.models import WebSession as _WebSessionRow

web_sessions = cast(Table, _WebSessionRow.__table__)

SESSION_COOKIE = "dockyard_session"
CSRF_COOKIE = "dockyard_csrf"
SESSION_TTL = timedelta(days=14)
MAX_COOKIE = 128


@dataclass(frozen=True, slots=True)
class WebSession:
    principal: Principal
    csrf_token: str
    expires_at: datetime


_SESSION = select(
    web_sessions.c.user_id,
    web_sessions.c.csrf_token,
    web_sessions.c.expires_at,
    web_sessions.c.credentials_version,
).where(web_sessions.c.id_hash == bindparam("id_hash"))


def now() -> datetime:
    return datetime.now(UTC)


def _hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class SessionStore:
    def __init__(self, database: Database, ttl: timedelta = SESSION_TTL) -> None:
        self.db = database
        self.ttl = ttl
        self.inline_lookups = database.dialect == "sqlite"

    @offload
    def create(self, principal: Principal, ip: str | None, user_agent: str | None) -> tuple[str, WebSession]:
        """A new session for a password login; returns the cookie value (shown to nobody else)
        and the session."""
        cookie, csrf, created = new_token(), new_token(), now()
        with self.db.write.begin() as conn:
            conn.execute(
                web_sessions.insert().values(
                    id_hash=_hash(cookie),
                    user_id=principal.user_id,
                    credentials_version=principal.credentials_version,
                    csrf_token=csrf,
                    created_at=created,
                    expires_at=created + self.ttl,
                    ip=ip[:64] if ip else None,
                    user_agent=user_agent[:255] if user_agent else None,
                )
            )
        session = self._get(cookie)
        assert session is not None
        return cookie, session

    @lookup
    def get(self, cookie: str) -> WebSession | None:
        return self._get(cookie)

    def _get(self, cookie: str) -> WebSession | None:
        if not cookie or len(cookie) > MAX_COOKIE:
            return None
        with self.db.read.connect() as conn:
            row = conn.execute(_SESSION, {"id_hash": _hash(cookie)}).first()
            if row is None or utc(row.expires_at) <= now():
                return None
            user = accounts_views.session_user(conn, row.user_id)
        if user is None or user.credentials_version != row.credentials_version:
            return None  # the account was disabled, deleted, or its password changed since
        principal = Principal(
            username=user.username,
            user_id=user.user_id,
            is_admin=user.is_admin,
            credentials_version=user.credentials_version,
        )
        return WebSession(principal, row.csrf_token, utc(row.expires_at))

    @offload
    def keep_only(self, cookie: str) -> str | None:
        """After a password change: the account's other sessions go, and this one (the browser
        that changed it) carries on under a new cookie, returned, with the account's new
        credentials version. None when the cookie is no session (nothing changes)."""
        fresh = new_token()
        with self.db.write.begin() as conn:
            user_id = conn.execute(
                select(web_sessions.c.user_id).where(web_sessions.c.id_hash == _hash(cookie))
            ).scalar_one_or_none()
            version = None if user_id is None else accounts_views.credentials_version(conn, user_id)
            if user_id is None or version is None:
                return None
            conn.execute(
                delete(web_sessions).where(
                    web_sessions.c.user_id == user_id, web_sessions.c.id_hash != _hash(cookie)
                )
            )
            conn.execute(
                update(web_sessions)
                .where(web_sessions.c.id_hash == _hash(cookie))
                .values(id_hash=_hash(fresh), credentials_version=version)
            )
        return fresh

    @offload
    def delete(self, cookie: str) -> None:
        with self.db.write.begin() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.id_hash == _hash(cookie)))

    @offload
    def purge_expired(self) -> int:
        with self.db.write.begin() as conn:
            result = conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now()))
            return int(result.rowcount or 0)
