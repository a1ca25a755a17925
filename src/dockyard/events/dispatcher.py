"""Delivering events: claim a batch, run the handlers in the claiming transaction, delete the rows.

One write transaction per batch (BEGIN IMMEDIATE on SQLite; ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several dispatchers share the rows): the handlers' writes (statistics, webhook
deliveries queued, rows removed) and the deletion of the event commit together, so what a handler
does to the database happens exactly once, whichever process dispatches and however it dies.

Each event runs under a savepoint. A handler that raises is logged with its traceback; the
event's own work is rolled back and it is tried again later (``retry_at``, doubling from
``RETRY_FIRST`` up to ``RETRY_MAX``), while the rest of the batch commits. Nothing is dropped.

Handlers are synchronous ``(conn, event) -> None``, registered by the composition root with
``on(kind, handler)``, or ``(conn, events) -> None`` with ``on_many(kind, handler)``: such a
handler gets each run of consecutive events of its kind at once (a burst of pushes is one run),
so it can write their rows in one ``executemany`` instead of a statement per event. The order of
events is kept. This module never imports the handlers. They must only touch the database.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.engine import Connection

from dockyard.db.engine import Database, in_thread
from dockyard.events.outbox import Event, events

log = logging.getLogger(__name__)

Handler = Callable[[Connection, Event], None]
ManyHandler = Callable[[Connection, Sequence[Event]], None]

BATCH = 200
POLL_SECONDS = 1.0  # how soon another process's events are seen (this process's wake us at once)
GATHER_SECONDS = 0.1  # after a wake, let a burst of pushes gather into one batch (handled as runs)
RETRY_FIRST = 1.0
RETRY_MAX = 3600.0


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class _HandlerFailed(Exception):
    """A handler raised in a batch run without savepoints: run it again event by event."""


class _Each:
    """A one-event handler as a handler of runs."""

    __slots__ = ("handler",)

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def __call__(self, conn: Connection, run: Sequence[Event]) -> None:
        for event in run:
            self.handler(conn, event)


def _event(row: Any) -> Event:
    return Event(row.kind, row.payload, row.actor, _aware(row.created_at), row.id)


def _runs(batch: Sequence[Event]) -> Iterator[Sequence[Event]]:
    """Consecutive events of one kind, in order."""
    start = 0
    for i in range(1, len(batch) + 1):
        if i == len(batch) or batch[i].kind != batch[start].kind:
            yield batch[start:i]
            start = i


DUE = (
    select(events)
    .where(or_(events.c.retry_at.is_(None), events.c.retry_at <= bindparam("now")))
    .order_by(events.c.id)
    .limit(bindparam("limit"))
)
DELETE_DONE = delete(events).where(events.c.id.in_(bindparam("ids", expanding=True)))


class Dispatcher:
    def __init__(self, database: Database, *, poll_seconds: float = POLL_SECONDS) -> None:
        self.db = database
        self.poll_seconds = poll_seconds
        self._handlers: dict[str, list[ManyHandler]] = defaultdict(list)
        # PostgreSQL: dispatchers in several processes share the rows; SQLite has one writer anyway.
        self._due = DUE.with_for_update(skip_locked=True) if database.dialect == "postgresql" else DUE
        self._wake: anyio.Event | None = None

    def on(self, kind: str, handler: Handler) -> None:
        self._handlers[kind].append(_Each(handler))

    def on_many(self, kind: str, handler: ManyHandler) -> None:
        self._handlers[kind].append(handler)

    # -- one batch ----------------------------------------------------------------------------

    def dispatch_once(self, limit: int = BATCH) -> int:
        """Handle up to ``limit`` due events; the number claimed (handled or deferred).

        The batch runs in one transaction without savepoints; only if a handler raises is it
        rolled back and run again event by event, each under a savepoint, so the failing event
        is set aside (``retry_at``) and the others commit."""
        try:
            return self._batch(limit, isolate=False)
        except _HandlerFailed:
            return self._batch(limit, isolate=True)

    def _batch(self, limit: int, *, isolate: bool) -> int:
        params = {"now": _now(), "limit": limit}
        with self.db.write.begin() as conn:
            rows = conn.execute(self._due, params).all()
            if not rows:
                return 0
            if isolate:
                done = [row.id for row in rows if self._isolated(conn, row)]
            else:
                for run in _runs([_event(row) for row in rows]):
                    self._run(conn, run, raise_as=_HandlerFailed)
                done = [row.id for row in rows]
            if done:
                conn.execute(DELETE_DONE, {"ids": done})
        return len(rows)

    def _run(
        self, conn: Connection, run: Sequence[Event], *, raise_as: type[Exception] | None = None
    ) -> None:
        for handler in self._handlers.get(run[0].kind, ()):
            try:
                handler(conn, run)
            except Exception as exc:
                if raise_as is None:
                    raise
                raise raise_as(run[0].id) from exc

    def _isolated(self, conn: Connection, row: Any) -> bool:
        savepoint = conn.begin_nested()
        try:
            self._run(conn, [_event(row)])
        except Exception:
            savepoint.rollback()
            self._defer(conn, row)
            return False
        savepoint.commit()
        return True

    @staticmethod
    def _defer(conn: Connection, row: Any) -> None:
        attempts = int(row.attempts) + 1
        wait = min(RETRY_MAX, RETRY_FIRST * 2 ** (attempts - 1))
        log.exception(
            "event %s (%s) failed on attempt %d; retrying in %.0f s", row.id, row.kind, attempts, wait
        )
        conn.execute(
            update(events)
            .where(events.c.id == row.id)
            .values(attempts=attempts, retry_at=_now() + timedelta(seconds=wait))
        )

    # -- the background task ------------------------------------------------------------------

    async def dispatch(self) -> int:
        return await in_thread(self.dispatch_once)

    async def drain(self) -> None:
        """Handle every due event now, in this process: for changes whose effects the caller
        should see when it returns (a deletion)."""
        while await self.dispatch() >= BATCH:
            pass

    def notify(self) -> None:
        """An event was committed in this process: dispatch soon. Call from the event loop."""
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """The ``events`` role: dispatch whenever notified, and every ``poll_seconds`` anyway."""
        while True:
            self._wake = anyio.Event()
            if await self.dispatch() >= BATCH:
                continue
            with anyio.move_on_after(self.poll_seconds):
                await self._wake.wait()
                await anyio.sleep(GATHER_SECONDS)
