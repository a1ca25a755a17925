"""Pull rate limits as Docker Hub applies them: manifest GETs per window, per account or IP.

Windows are fixed (aligned to the epoch) and counters live in process memory, so each
worker counts on its own; a database-backed limiter for several workers or replicas can
replace this class. A limit of 0 means unlimited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 100_000


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
        self, anonymous: int, authenticated: int, window: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.anonymous = anonymous
        self.authenticated = authenticated
        self.window = window
        self.clock = clock
        self._counts: dict[str, tuple[int, int]] = {}  # key -> (window number, pulls)

    @property
    def enabled(self) -> bool:
        return self.anonymous > 0 or self.authenticated > 0

    def limit(self, authenticated: bool) -> int:
        return self.authenticated if authenticated else self.anonymous

    def check(self, key: str, limit: int, count: bool) -> Quota:
        """The quota after this request; a counted request past the limit is refused, not counted."""
        current = int(self.clock() // self.window)
        window, used = self._counts.get(key, (current, 0))
        if window != current:
            used = 0
        allowed = not count or used < limit
        if count and allowed:
            used += 1
            if len(self._counts) >= MAX_KEYS and key not in self._counts:
                self._prune(current)
            self._counts[key] = (current, used)
        return Quota(limit, max(limit - used, 0), allowed, self.window)

    def _prune(self, current: int) -> None:
        for key in [k for k, (w, _) in self._counts.items() if w != current]:
            del self._counts[key]
        if len(self._counts) >= MAX_KEYS:
            self._counts.clear()
