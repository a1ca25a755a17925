"""Where the login throttle and the pull rate limiter keep their counts.

Replicas behind a load balancer must count together, or an attacker gets each replica's allowance:
``DatabaseCounters`` keeps them in the ``rate_counters`` table (one row per key: the count in its
current fixed window and a lock-out time), so every process on one database shares them. Each hit
is one upsert that counts only while under the limit, so concurrent replicas never count past it.
``MemoryCounters`` is the same contract in one process, for tests and tools that have no database.

Why not the ``limits`` library: it is maintained and has fixed, moving and sliding windows, but its
shared stores are Redis, Memcached, MongoDB, etcd and Valkey; none is SQL. Using it here would mean a
storage adapter over our database as large as this module, plus a dependency, and its strategies
have no lock-out (N failures lock the account for M seconds) that the throttle needs. The database
is already the one store every replica shares, so it holds the counters.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from sqlalchemy import Table, and_, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from dockyard.db import models
from dockyard.db.engine import Database, offload

counters = cast(Table, models.RateCounter.__table__)
MAX_KEYS = 100_000  # MemoryCounters forgets the oldest half past this
PRUNE_ONE_IN = 1000  # DatabaseCounters deletes expired rows on about one hit in this many


class CounterStore(Protocol):
    def hit(self, key: str, window_end: float, limit: int, now: float) -> Awaitable[int | None]:
        """Count one under ``key`` in the window ending at ``window_end``; the count after it, or
        None (and nothing counted) when the window already holds ``limit``. Keys whose window
        and lock-out both ended before ``now`` may be forgotten."""

    def peek(self, key: str, window_end: float) -> Awaitable[int]:
        """The count under ``key`` in the window ending at ``window_end``, counting nothing."""

    def lock(self, key: str, until: float) -> Awaitable[None]:
        """Lock ``key`` out until ``until`` and start its count afresh."""

    def locked_until(self, keys: Sequence[str], now: float) -> Awaitable[float | None]:
        """The latest lock-out of ``keys`` still running at ``now``, if any."""

    def clear(self, key: str) -> Awaitable[None]: ...


@dataclass
class _Row:
    window_end: float
    count: int = 0
    locked_until: float = 0.0


class MemoryCounters:
    def __init__(self) -> None:
        self._rows: dict[str, _Row] = {}

    async def hit(self, key: str, window_end: float, limit: int, now: float) -> int | None:
        row = self._rows.get(key)
        if row is None:
            if len(self._rows) >= MAX_KEYS:
                for old in list(self._rows)[: MAX_KEYS // 2]:
                    del self._rows[old]
            row = self._rows[key] = _Row(window_end)
        if row.window_end != window_end:
            row.window_end, row.count = window_end, 0
        if row.count >= limit:
            return None
        row.count += 1
        return row.count

    async def peek(self, key: str, window_end: float) -> int:
        row = self._rows.get(key)
        return row.count if row is not None and row.window_end == window_end else 0

    async def lock(self, key: str, until: float) -> None:
        row = self._rows.setdefault(key, _Row(0.0))
        row.locked_until, row.count = until, 0

    async def locked_until(self, keys: Sequence[str], now: float) -> float | None:
        locks = [row.locked_until for key in keys if (row := self._rows.get(key)) and row.locked_until > now]
        return max(locks, default=None)

    async def clear(self, key: str) -> None:
        self._rows.pop(key, None)


class DatabaseCounters:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._insert = postgresql.insert if database.dialect == "postgresql" else sqlite.insert

    @offload
    def hit(self, key: str, window_end: float, limit: int, now: float) -> int | None:
        new = self._insert(counters).values(key=key, window_end=window_end, count=1, locked_until=0.0)
        same_window = counters.c.window_end == new.excluded.window_end
        upsert = new.on_conflict_do_update(
            index_elements=[counters.c.key],
            set_={
                "count": case((same_window, counters.c.count + 1), else_=1),
                "window_end": new.excluded.window_end,
            },
            where=or_(~same_window, counters.c.count < limit),
        ).returning(counters.c.count)
        with self.database.write.begin() as conn:
            count = conn.execute(upsert).scalar_one_or_none()
            if random.randrange(PRUNE_ONE_IN) == 0:
                conn.execute(
                    delete(counters).where(and_(counters.c.window_end < now, counters.c.locked_until < now))
                )
        return count

    @offload
    def peek(self, key: str, window_end: float) -> int:
        with self.database.read.connect() as conn:
            count = conn.execute(
                select(counters.c.count).where(counters.c.key == key, counters.c.window_end == window_end)
            ).scalar_one_or_none()
        return count or 0

    @offload
    def lock(self, key: str, until: float) -> None:
        with self.database.write.begin() as conn:
            conn.execute(update(counters).where(counters.c.key == key).values(locked_until=until, count=0))

    @offload
    def locked_until(self, keys: Sequence[str], now: float) -> float | None:
        with self.database.read.connect() as conn:
            latest = conn.execute(
                select(func.max(counters.c.locked_until)).where(
                    counters.c.key.in_(keys), counters.c.locked_until > now
                )
            ).scalar_one_or_none()
        return float(latest) if latest is not None else None

    @offload
    def clear(self, key: str) -> None:
        with self.database.write.begin() as conn:
            conn.execute(delete(counters).where(counters.c.key == key))
