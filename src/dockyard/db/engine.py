"""The engine, built once per process by the composition root (services.py); off-thread execution.
The schema and its upgrades are ``dockyard.migrations``'."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import threading
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.sql import Executable

from dockyard.db.points import PointReads


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers proceed during writes (and across worker processes);
    # busy_timeout makes concurrent writers wait instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


P = ParamSpec("P")
R = TypeVar("R")


DB_THREADS = 40  # as many as anyio's default thread limiter
_threads: ThreadPoolExecutor | None = None
_threads_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """The process's database threads, started on first use (a forked worker starts its own)."""
    global _threads
    if _threads is None:
        with _threads_lock:
            if _threads is None:
                _threads = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="dockyard-db")
    return _threads


def _after_fork() -> None:
    global _threads
    _threads = None  # the parent's threads do not exist in the child


def in_thread(call: Callable[[], R]) -> Awaitable[R]:
    """``call`` on a database thread, awaited. A ThreadPoolExecutor hands work over through a C
    SimpleQueue where anyio's to_thread takes a Condition, a capacity limiter and its backend
    lookups: a third of a tag PUT's hop. A unit of database work is one transaction of its own,
    so a caller cancelled meanwhile lets it finish (or never start) without waiting for it."""
    context = contextvars.copy_context()  # as to_thread does: the caller's context variables
    return asyncio.get_running_loop().run_in_executor(_executor(), context.run, call)


os.register_at_fork(after_in_child=_after_fork)


def offload(fn: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """Run a synchronous unit of database work on a worker thread, as one awaitable."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return await in_thread(functools.partial(fn, *args, **kwargs))

    return run


def lookup(fn: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """A point read by key. On SQLite it runs inline: an indexed read from the page
    cache takes ~30 us, less than the ~50-300 us a thread hop costs under load, and
    WAL readers never wait for writers. Elsewhere (a network database) it is offloaded."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if getattr(args[0], "inline_lookups", False):
            return fn(*args, **kwargs)
        return await in_thread(functools.partial(fn, *args, **kwargs))

    return run


@dataclass(frozen=True)
class Database:
    """Two views of one database: ``read`` for queries, ``write`` for transactions that write.

    On SQLite a write transaction starts with BEGIN IMMEDIATE, taking the write lock
    up front: a deferred transaction that reads, then writes, fails at once with
    "database is locked" when another writer got there first, instead of waiting.
    """

    read: Engine
    write: Engine
    points: PointReads | None = field(default=None, compare=False)

    @property
    def dialect(self) -> str:
        return self.read.dialect.name

    def point(self, statement: Executable, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The one row of a read by key, or None; raw driver values on SQLite (points.py)."""
        if self.points is not None:
            return self.points.one(statement, params)
        with self.read.connect() as conn:
            row = conn.execute(statement, dict(params)).first()
        return None if row is None else tuple(row)

    def forget_old_pages(self) -> None:
        """On SQLite, fold the write-ahead log into the database and empty it (old page images
        stay in the log until then); other databases keep no such file of ours."""
        if self.dialect == "sqlite":
            with self.read.connect() as conn:  # no BEGIN: a checkpoint runs outside transactions
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def dispose(self) -> None:
        if self.points is not None:
            self.points.close()
        self.read.dispose()
        if self.write is not self.read:
            self.write.dispose()


def _sqlite_engine(url: str, begin: str | None, connections: int) -> Engine:
    # isolation_level=None stops pysqlite's own implicit BEGIN, so ours is the one
    # issued; without one (the read engine) each statement is its own snapshot.
    engine = create_engine(
        url,
        pool_size=connections,
        max_overflow=0 if connections == 1 else connections,
        pool_timeout=120,
        connect_args={"check_same_thread": False, "isolation_level": None},
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    if begin:  # on the driver's connection: exec_driver_sql costs a whole execution context per write
        event.listen(engine, "begin", lambda conn: conn.connection.dbapi_connection.execute(begin))
    return engine


def make_database(url: str) -> Database:
    url = sync_url(url)
    if url.startswith("sqlite"):
        # One write connection per process: SQLite has one writer anyway, and threads queueing
        # for the pool wake at once, where SQLite's busy handler sleeps 1-100 ms between tries
        # (8 threads of tag PUTs: 214 per second before, 360-390 after, on a busy machine).
        read = _sqlite_engine(url, None, 16)
        points = PointReads(read) if PointReads.usable(read) else None
        return Database(read, _sqlite_engine(url, "BEGIN IMMEDIATE", 1), points)
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    return Database(engine, engine)


def sync_url(url: str) -> str:
    """The driver SQLAlchemy uses: psycopg 3 for PostgreSQL (its default would be psycopg2), and
    the sync twins of async drivers (Alembic runs synchronously)."""
    url = url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url.removeprefix(scheme)
    return url
