"""Writing an event: inside the transaction of the change, so both commit or neither does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection

from dockyard.events.models import OutboxEvent

events = cast(Table, OutboxEvent.__table__)
_INSERT = insert(events)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # "manifest.pushed", "repository.deleted", ...: the owner's vocabulary
    payload: Mapping[str, Any]  # JSON-serialisable
    actor: str | None = None
    at: datetime = field(default_factory=_now)
    id: int | None = None  # set once stored


def add(conn: Connection, event: Event) -> None:
    """Queue ``event`` in ``conn``'s open transaction (the one making the change it describes)."""
    conn.execute(INSERT, row(event))


INSERT = _INSERT


def row(event: Event) -> dict[str, Any]:
    """The outbox row of ``event``: the parameters of ``INSERT`` (for callers that run it their
    own way, as the registry's hot manifest PUT does)."""
    return {
        "kind": event.kind,
        "payload": dict(event.payload),
        "actor": event.actor[:64] if event.actor else None,
        "created_at": event.at,
        "attempts": 0,
    }
