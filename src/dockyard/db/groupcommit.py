"""Group commit: write transactions that arrive while one is running share the next one.

SQLite has one writer. Eight clients pushing tags at once each paid, per manifest PUT, a hop to a
database thread and back, a checkout of the one write connection (its waiters woken one by one),
a BEGIN IMMEDIATE and a COMMIT. Here the jobs that queue up while a transaction runs go together
to one thread, in one transaction: one hop, one checkout, one BEGIN, one COMMIT for all of them.

Each job runs inside its own SAVEPOINT, so a job that raises (a quota, an immutable tag, a missing
blob) undoes only its own writes and gets its own exception; the others commit. A job's result
is handed back only after the COMMIT, so a client never hears of a write that is not durable. If
the transaction as a whole fails (BEGIN, COMMIT, or a rollback to a savepoint that SQLite refused
because the error already ended the transaction), every job in it gets that failure and nothing
of it is stored, which is what each would have seen alone.

Used for SQLite's hot write (the manifest PUT); other databases have many writers and row locks,
so each job there keeps its own transaction.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection

from dockyard.db.engine import in_thread

R = TypeVar("R")
MAX_JOBS = 64  # per transaction: a bounded time holding the write lock


@dataclass
class _Job(Generic[R]):
    work: Callable[[Connection], R]
    future: asyncio.Future[R]


@dataclass
class _Queue:
    """One event loop's jobs waiting for the next transaction, and the task running transactions
    while there are any (held: the loop keeps only a weak reference to a task)."""

    waiting: list[_Job[Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


class GroupCommit:
    def __init__(self, begin: Callable[[], AbstractContextManager[Connection]]) -> None:
        self._begin = begin
        # Per event loop: futures belong to their loop (tests run several loops in one process).
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = (
            weakref.WeakKeyDictionary()
        )

    async def run(self, work: Callable[[Connection], R]) -> R:
        """``work(conn)`` in a write transaction, maybe shared with other jobs; its result or error."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        job: _Job[R] = _Job(work, loop.create_future())
        queue.waiting.append(job)
        if queue.task is None or queue.task.done():
            queue.task = loop.create_task(self._drain(queue))
        return await job.future

    async def _drain(self, queue: _Queue) -> None:
        """Run transactions until no job waits; jobs that arrive meanwhile go into the next."""
        while queue.waiting:
            jobs, queue.waiting = queue.waiting[:MAX_JOBS], queue.waiting[MAX_JOBS:]
            jobs = [job for job in jobs if not job.future.cancelled()]  # their callers left
            if not jobs:
                continue
            try:
                outcomes = await in_thread(functools.partial(self._transaction, jobs))
            except asyncio.CancelledError:  # the loop is closing: nobody is left to answer
                for job in [*jobs, *queue.waiting]:
                    job.future.cancel()
                raise
            except Exception as failed:  # the transaction itself: every job shares it
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(failed)
                continue
            for job, (ok, value) in zip(jobs, outcomes, strict=True):
                if job.future.done():
                    continue  # its caller was cancelled; the write stands, as with a lone job
                if ok:
                    job.future.set_result(value)
                else:
                    job.future.set_exception(value)

    def _transaction(self, jobs: list[_Job[Any]]) -> list[tuple[bool, Any]]:
        with self._begin() as conn:
            if len(jobs) == 1:  # alone: its error rolls the transaction back, as it always did
                return [(True, jobs[0].work(conn))]
            return list(self._each_in_a_savepoint(conn, jobs))

    @staticmethod
    def _each_in_a_savepoint(conn: Connection, jobs: list[_Job[Any]]) -> Iterator[tuple[bool, Any]]:
        raw = conn.connection.driver_connection
        assert raw is not None
        for job in jobs:
            raw.execute("SAVEPOINT job")
            try:
                value = job.work(conn)
            except Exception as refused:
                try:
                    raw.execute("ROLLBACK TO SAVEPOINT job")
                    raw.execute("RELEASE SAVEPOINT job")
                except Exception:
                    raise refused from None  # the error ended the transaction: it fails as a whole
                yield False, refused
                continue
            raw.execute("RELEASE SAVEPOINT job")
            yield True, value
