"""The audit log: append-only security events, with secrets scrubbed before they are stored.

``write_event`` runs inside the caller's transaction, so a change and its event commit together;
every other part of the service records its events through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from dockyard.accounts import _queries as q
from dockyard.accounts._queries import events
from dockyard.accounts.records import TOKEN_PREFIX, AuditEvent
from dockyard.db.engine import offload

_REDACTED = "[redacted]"
_SECRET_KEYS = ("password", "secret", "plaintext", "authorization", "credential")


class AuditLog(q.ServicePart):
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
            write_event(conn, kind, actor=actor, ip=ip, target=target, detail=detail or {})

    @offload
    def record_login_failure(self, attempted: str, *, ip: str | None, detail: Mapping[str, Any]) -> None:
        """A failed login, naming the account only when one by that name exists: people type
        passwords into the username field, and the audit log must never keep one."""
        with self.db.write.begin() as conn:
            name = attempted.lower() if attempted.isascii() else attempted
            known = q.user(conn, name)
            detail = {**detail, "known_account": known is not None}
            write_event(
                conn, "login.failure", actor=name if known else None, ip=ip, target=None, detail=detail
            )

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
            AuditEvent(r.id, q.utc(r.created_at), r.kind, r.actor, r.ip, r.target, dict(r.detail or {}))
            for r in rows
        ]


_INSERT = events.insert()


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One event to write (``write_events``)."""

    kind: str
    actor: str | None
    target: str | None
    detail: Mapping[str, Any]
    ip: str | None = None


def write_event(
    conn: Connection,
    kind: str,
    *,
    actor: str | None,
    target: str | None,
    detail: Mapping[str, Any],
    ip: str | None = None,
) -> None:
    write_events(conn, [AuditRow(kind, actor, target, detail, ip)])


def write_events(conn: Connection, found: Sequence[AuditRow]) -> None:
    """Rows in one ``executemany`` (the outbox's dispatcher audits a burst of pushes at once)."""
    if not found:
        return
    now = q.now()
    rows = [
        {
            "created_at": now,
            "kind": row.kind[:64],
            "actor": _scrub(row.actor)[:64] if row.actor else None,
            "ip": row.ip[:64] if row.ip else None,
            "target": _scrub(row.target)[:255] if row.target else None,
            "detail": _scrub_detail(row.detail),
        }
        for row in found
    ]
    conn.execute(_INSERT, rows)


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
