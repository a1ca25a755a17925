"""Login throttling: too many failures lock an account, or an IP, out.

An IP gets a larger allowance than an account: behind a NAT or a proxy many people share
one address, and one of them guessing passwords should not lock all the others out at once.
Failures are counted in fixed windows of ``window_seconds`` in a ``CounterStore`` (counters.py):
the database's in a server, so every worker and every replica counts together.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dockyard.auth.counters import CounterStore, MemoryCounters


class LoginThrottle:
    def __init__(
        self,
        max_failures: int,
        window_seconds: float,
        lockout_seconds: float,
        clock: Callable[[], float] = time.time,
        *,
        ip_max_failures: int | None = None,
        store: CounterStore | None = None,
    ) -> None:
        self.limits = {"user": max_failures, "ip": ip_max_failures or max_failures}
        self.window = window_seconds
        self.lockout = lockout_seconds
        self.clock = clock  # wall-clock seconds: replicas compare lock-outs across processes
        self.store = store or MemoryCounters()

    async def retry_after(self, account: str, ip: str | None) -> int | None:
        """Seconds until the account and the IP are both open again, or None when neither is locked."""
        now = self.clock()
        until = await self.store.locked_until(self._keys(account, ip), now)
        return max(1, int(until - now + 0.999)) if until is not None else None

    async def failed(self, account: str, ip: str | None) -> None:
        now = self.clock()
        window_end = (now // self.window + 1) * self.window
        for key in self._keys(account, ip):
            limit = self.limits[key.split(":", 1)[0].removeprefix("login-")]
            count = await self.store.hit(key, window_end, limit, now)
            if count is None or count >= limit:
                await self.store.lock(key, now + self.lockout)

    async def succeeded(self, account: str) -> None:
        """A right password clears the account's failures (not the IP's: it may be guessing others)."""
        await self.store.clear(self._keys(account, None)[0])

    @staticmethod
    def _keys(account: str, ip: str | None) -> list[str]:
        keys = [f"login-user:{account.lower()[:100]}"]
        if ip is not None:
            keys.append(f"login-ip:{ip[:64]}")
        return keys
