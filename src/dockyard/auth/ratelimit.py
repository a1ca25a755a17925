"""Pull rate limits as Docker Hub applies them: manifest GETs per window, per account or IP.

Windows are fixed (aligned to the epoch); the counts live in a ``CounterStore`` (counters.py):
the database's in a server, so every worker and every replica counts together. A limit of 0
means unlimited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from dockyard.auth.counters import CounterStore, MemoryCounters


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int
    remaining: int
    allowed: bool
    window: int

    def headers(self, source: str) -> list[tuple[bytes, bytes]]:
        return [
            (b"ratelimit-limit", f"{self.limit};w={self.window}".encode()),
            (b"ratelimit-remaining", f"{self.remaining};w={self.window}".encode()),
            (b"docker-ratelimit-source", source.encode()),
        ]


class PullRateLimiter:
    def __init__(
        self,
        anonymous: int,
        authenticated: int,
        window: int,
        clock: Callable[[], float] = time.time,
        *,
        store: CounterStore | None = None,
    ) -> None:
        self.anonymous = anonymous
        self.authenticated = authenticated
        self.window = window
        self.clock = clock
        self.store = store or MemoryCounters()

    @property
    def enabled(self) -> bool:
        return self.anonymous > 0 or self.authenticated > 0

    def limit(self, authenticated: bool) -> int:
        return self.authenticated if authenticated else self.anonymous

    async def check(self, key: str, limit: int, count: bool) -> Quota:
        """The quota after this request; a counted request past the limit is refused, not counted.
        A HEAD (``count`` false) reads the quota without using it."""
        now = self.clock()
        window_end = (now // self.window + 1) * self.window
        if count:
            used = await self.store.hit(f"pull-{key}", window_end, limit, now)
            if used is None:
                return Quota(limit, 0, False, self.window)
            return Quota(limit, max(limit - used, 0), True, self.window)
        used = await self.store.peek(f"pull-{key}", window_end)
        return Quota(limit, max(limit - used, 0), True, self.window)
