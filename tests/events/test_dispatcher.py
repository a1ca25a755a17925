"""The outbox's dispatcher: events written in a transaction exist only if it commits; handlers run
in the claiming transaction, exactly once; a failing handler sets its event aside (logged, retried
later with back-off) while the rest of the batch commits; nothing is dropped."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from dockyard.db.engine import Database, make_database
from dockyard.events import Dispatcher, Event, add
from dockyard.events.outbox import events
from dockyard.migrations import upgrade


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'dockyard.db'}"
    upgrade(url)
    db = make_database(url)
    yield db
    db.dispose()


def _write(database: Database, *kinds: str, fail: bool = False) -> None:
    with database.write.begin() as conn:
        for kind in kinds:
            add(conn, Event(kind, {"n": kind}, actor="alice"))
        if fail:
            raise RuntimeError("the change fails")


def _pending(database: Database) -> list[tuple[str, int]]:
    with database.read.connect() as conn:
        return [(r.kind, r.attempts) for r in conn.execute(select(events).order_by(events.c.id))]


def test_events_commit_with_the_change_and_are_handled_once(database: Database) -> None:
    with pytest.raises(RuntimeError):
        _write(database, "lost", fail=True)
    _write(database, "a", "b")
    dispatcher = Dispatcher(database)
    seen: list[tuple[str, str | None]] = []

    def record(conn: Connection, event: Event) -> None:
        conn.execute(text("SELECT 1"))  # handlers get the claiming transaction's connection
        seen.append((event.payload["n"], event.actor))

    dispatcher.on("a", record)
    dispatcher.on("b", record)
    assert dispatcher.dispatch_once() == 2
    assert seen == [("a", "alice"), ("b", "alice")]
    assert _pending(database) == []
    assert dispatcher.dispatch_once() == 0 and len(seen) == 2


def test_a_failing_handler_defers_its_event_and_the_rest_commit(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    _write(database, "good", "poison", "good")
    dispatcher = Dispatcher(database)
    written: list[str] = []

    def good(conn: Connection, event: Event) -> None:
        written.append(event.kind)

    def poison(conn: Connection, event: Event) -> None:
        conn.execute(text("DELETE FROM events"))  # rolled back with the failing event's savepoint
        raise ValueError("cannot handle this one")

    dispatcher.on("good", good)
    dispatcher.on("poison", poison)
    with caplog.at_level(logging.ERROR, logger="dockyard.events.dispatcher"):
        assert dispatcher.dispatch_once() == 3
    assert "cannot handle this one" in caplog.text and "attempt 1" in caplog.text
    assert _pending(database) == [("poison", 1)]  # set aside, not dropped
    assert dispatcher.dispatch_once() == 0  # not due again before its back-off
    with database.write.begin() as conn:
        conn.execute(events.update().values(retry_at=None))
    dispatcher._handlers["poison"].clear()  # fixed: it goes through
    dispatcher.on("poison", good)
    assert dispatcher.dispatch_once() == 1 and _pending(database) == []


@pytest.mark.anyio
async def test_drain_handles_everything_due(database: Database) -> None:
    for _ in range(3):
        _write(database, *(["x"] * 150))
    dispatcher = Dispatcher(database)
    count: list[int] = []
    dispatcher.on("x", lambda conn, event: count.append(1))
    await dispatcher.drain()
    assert len(count) == 450 and _pending(database) == []
