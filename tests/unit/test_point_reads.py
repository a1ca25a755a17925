"""db/points.py: a point read on SQLite's raw per-thread connection answers what the engine answers,
sees rows committed since, never writes, and is not used where a new connection would be another
database (in memory)."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.pool import StaticPool

from dockyard.db.engine import Database
from dockyard.db.points import PointReads
from dockyard.registry.store import REPOSITORY_ID, repositories

pytestmark = pytest.mark.integration


def _add(database: Database, name: str) -> int:
    with database.write.begin() as conn:
        conn.execute(insert(repositories).values(name=name, created_at=datetime.now(UTC)))
        return int(conn.execute(REPOSITORY_ID, {"name": name}).scalar_one())


def test_a_point_read_answers_what_the_engine_answers_and_sees_later_commits(database: Database) -> None:
    assert database.points is not None  # a file database: the raw path is the one under test
    assert database.point(REPOSITORY_ID, {"name": "alice/app"}) is None
    made = _add(database, "alice/app")
    assert database.point(REPOSITORY_ID, {"name": "alice/app"}) == (made,)
    with database.read.connect() as conn:
        assert conn.execute(REPOSITORY_ID, {"name": "alice/app"}).first() == (made,)
    other = _add(database, "alice/other")  # committed after this thread's connection opened
    assert database.point(REPOSITORY_ID, {"name": "alice/other"}) == (other,)


def test_each_thread_reads_on_its_own_connection(database: Database) -> None:
    made = _add(database, "bob/app")
    seen: list[object] = []
    threads = [
        threading.Thread(target=lambda: seen.append(database.point(REPOSITORY_ID, {"name": "bob/app"})))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [(made,)] * 4
    assert database.points is not None and len(database.points._opened) == 4


def test_a_point_read_cannot_write(database: Database) -> None:
    sneaky = text("DELETE FROM repositories WHERE name = :name")
    _add(database, "carol/app")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        database.point(sneaky, {"name": "carol/app"})
    assert database.point(REPOSITORY_ID, {"name": "carol/app"}) is not None


def test_an_in_memory_database_is_read_through_its_engine() -> None:
    """A second connection to ``sqlite://`` would open another, empty database."""
    for url in ("sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true"):
        assert not PointReads.usable(create_engine(url, poolclass=StaticPool))
    assert PointReads.usable(create_engine("sqlite:////tmp/dockyard.db"))
