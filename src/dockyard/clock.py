"""Time, as something passed in: the real clock in production, a fake one in tests.

    Clock.now()          aware UTC datetime
    Clock.monotonic()    seconds, for intervals
    Clock.sleep(s)       await the interval (a fake clock advances instead of waiting)

``build_services`` takes one and hands it to what runs on a schedule (``dockyard.background``),
so a test can drive a loop without wall-clock sleeps.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

import anyio


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


def utc(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime: SQLite hands back naive ones, and every value we
    store is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
