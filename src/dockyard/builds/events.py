"""The builds domain's outbox event: ``build.state``, written by the build queue in the transaction
that moves a build (queued -> building, and each finished state), with the build's fields as
JSON (times as Unix seconds). The hub's handler turns it into webhook deliveries
(``hub/build_events.py``); services.py wires the two, neither imports the other."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from dockyard.events import Event, outbox

BUILD_STATE = "build.state"


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, tuple):
        return list(value)
    return value


def write_build_state(conn: Connection, build: Mapping[str, Any]) -> int:
    """The queue's ``events`` callback: one outbox row in the build's own transaction."""
    outbox.add(conn, Event(BUILD_STATE, {name: _json(value) for name, value in build.items()}))
    return 1
