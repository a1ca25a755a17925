"""Time, as something passed in: the real clock in production, a fake one in tests.

    Clock.now()          aware UTC datetime: timestamps stored in the database, build leases
    Clock.time()         seconds since the epoch: token claims, windows aligned to the epoch
    Clock.monotonic()    seconds, for intervals: login lockouts, back-offs
    Clock.sleep(s)       await the interval (a fake clock waits until the test moves it)

``build_services`` takes one and hands it to everything that reads the time (the token
authority, the login throttle, the pull rate limiter, the build queue) and to what runs on a
schedule (``dockyard.background``), so a test steps time instead of sleeping through a lockout,
an expiry or a lease.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

import anyio


class Clock(Protocol):
    def now(self) -> datetime: ...

    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


def utc(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime: SQLite hands back naive ones, and every value we
    store is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
