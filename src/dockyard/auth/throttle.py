"""Login throttling, in process memory: too many failures lock an account, or an IP, out.

An IP gets a larger allowance than an account: behind a NAT or a proxy many people share
one address, and one of them guessing passwords should not lock all the others out at once.
Counters live in each worker process; with several workers an attacker gets at most
``workers`` times the allowance. A shared (database) store can replace this later.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_KEYS = 100_000


@dataclass
class _Record:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class LoginThrottle:
    def __init__(
        self,
        max_failures: int,
        window_seconds: float,
        lockout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        ip_max_failures: int | None = None,
    ) -> None:
        self.limits = {"user": max_failures, "ip": ip_max_failures or max_failures}
        self.window = window_seconds
        self.lockout = lockout_seconds
        self.clock = clock
        self._records: dict[str, _Record] = {}

    def retry_after(self, account: str, ip: str | None) -> int | None:
        """Seconds until the account and the IP are both open again, or None when neither is locked."""
        keys = self._keys(account, ip)
        now = self.clock()
        waits = [r.locked_until - now for k in keys if (r := self._records.get(k)) and r.locked_until > now]
        return max(1, int(max(waits) + 0.999)) if waits else None

    def failed(self, account: str, ip: str | None) -> None:
        now = self.clock()
        if len(self._records) >= MAX_KEYS:
            self._prune(now)
        for key in self._keys(account, ip):
            record = self._records.setdefault(key, _Record())
            record.failures.append(now)
            while record.failures and record.failures[0] <= now - self.window:
                record.failures.popleft()
            if len(record.failures) >= self.limits[key.split(":", 1)[0]]:
                record.locked_until = now + self.lockout
                record.failures.clear()

    def succeeded(self, account: str) -> None:
        """A right password clears the account's failures (not the IP's: it may be guessing others)."""
        self._records.pop(self._keys(account, None)[0], None)

    @staticmethod
    def _keys(account: str, ip: str | None) -> list[str]:
        keys = [f"user:{account.lower()}"]
        if ip is not None:
            keys.append(f"ip:{ip}")
        return keys

    def _prune(self, now: float) -> None:
        for key in [k for k, r in self._records.items() if r.locked_until <= now]:
            record = self._records[key]
            if not record.failures or record.failures[-1] <= now - self.window:
                del self._records[key]
        if len(self._records) >= MAX_KEYS:  # still full: forget the oldest half
            for key in list(self._records)[: MAX_KEYS // 2]:
                del self._records[key]
