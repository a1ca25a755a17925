"""Group commit (dockyard/db/groupcommit.py): jobs that arrive together share one SQLite write
transaction, each in its own savepoint; one job's error undoes only its writes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from dockyard.db.engine import Database, make_database
from dockyard.db.groupcommit import GroupCommit

pytestmark = pytest.mark.anyio


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = make_database(f"sqlite:///{tmp_path / 'group.db'}")
    with db.write.begin() as conn:
        conn.execute(text("CREATE TABLE t (k TEXT PRIMARY KEY)"))
    yield db
    db.dispose()


def stored(db: Database) -> list[str]:
    with db.read.connect() as conn:
        return sorted(conn.execute(text("SELECT k FROM t")).scalars())


def insert(key: str, gate: threading.Event | None = None):  # type: ignore[no-untyped-def]
    def work(conn: Connection) -> str:
        if gate is not None:
            gate.wait(10)  # holds the transaction open so that the next jobs queue up
        conn.execute(text("INSERT INTO t (k) VALUES (:k)"), {"k": key})
        return key

    return work


def count_begins(db: Database) -> list[int]:
    begins: list[int] = []
    event.listen(db.write, "begin", lambda conn: begins.append(1))
    return begins


async def queued_behind_a_first_job(group: GroupCommit, works: list) -> list:  # type: ignore[type-arg]
    """Start a first job that waits on a gate, queue ``works`` behind it, then open the gate:
    the queued jobs run together in the second transaction."""
    gate = threading.Event()
    first = asyncio.ensure_future(group.run(insert("first", gate)))
    await asyncio.sleep(0.05)
    rest = [asyncio.ensure_future(group.run(work)) for work in works]
    await asyncio.sleep(0.05)
    gate.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


async def test_jobs_that_arrive_together_share_one_transaction(database: Database) -> None:
    group = GroupCommit(database.write.begin)
    begins = count_begins(database)
    results = await queued_behind_a_first_job(group, [insert(f"k{i}") for i in range(5)])
    assert results == ["first", "k0", "k1", "k2", "k3", "k4"]
    assert len(begins) == 2  # the first job's transaction, then one for the five queued
    assert stored(database) == ["first", "k0", "k1", "k2", "k3", "k4"]


async def test_a_failing_job_undoes_only_its_own_writes(database: Database) -> None:
    group = GroupCommit(database.write.begin)

    def half_then_fail(conn: Connection) -> None:
        conn.execute(text("INSERT INTO t (k) VALUES ('half')"))
        raise ValueError("refused")

    results = await queued_behind_a_first_job(group, [insert("a"), half_then_fail, insert("b")])
    assert results[:2] == ["first", "a"] and results[3] == "b"
    assert isinstance(results[2], ValueError)
    assert stored(database) == ["a", "b", "first"]


async def test_a_transaction_that_fails_as_a_whole_fails_every_job_and_stores_nothing(
    database: Database,
) -> None:
    group = GroupCommit(database.write.begin)

    def ends_the_transaction(conn: Connection) -> None:
        conn.connection.driver_connection.execute("ROLLBACK")  # type: ignore[union-attr]
        raise ValueError("the transaction is gone")

    results = await queued_behind_a_first_job(group, [insert("a"), ends_the_transaction, insert("b")])
    assert results[0] == "first"
    assert all(isinstance(r, ValueError) for r in results[1:])
    assert stored(database) == ["first"]


async def test_a_lone_job_keeps_its_own_transaction_and_its_error(database: Database) -> None:
    group = GroupCommit(database.write.begin)

    def fail(conn: Connection) -> None:
        conn.execute(text("INSERT INTO t (k) VALUES ('x')"))
        raise KeyError("x")

    with pytest.raises(KeyError):
        await group.run(fail)
    assert await group.run(insert("y")) == "y"
    assert stored(database) == ["y"]


async def test_a_job_whose_caller_left_before_it_ran_is_not_run(database: Database) -> None:
    group = GroupCommit(database.write.begin)
    gate = threading.Event()
    first = asyncio.ensure_future(group.run(insert("first", gate)))
    await asyncio.sleep(0.05)
    left = asyncio.ensure_future(group.run(insert("left")))
    stays = asyncio.ensure_future(group.run(insert("stays")))
    await asyncio.sleep(0.05)
    left.cancel()
    gate.set()
    assert await first == "first" and await stays == "stays"
    assert stored(database) == ["first", "stays"]
