"""A clock the test moves by hand: ``FakeClock`` satisfies ``dockyard.clock.Clock``.

    clock = FakeClock()          starts at the real time now (so stored timestamps look sane)
    clock.advance(seconds)       moves now(), time() and monotonic() forward together
    await clock.sleep(seconds)   returns once the test has advanced the clock that far

Give it to ``build_services(settings, clock=clock)`` (tests/inprocess.py does with ``clock=``) or
to a service's constructor, and a lockout, a token's expiry or a build lease running out becomes a
step of the test instead of seconds of waiting. Background loops sleeping on it wait for the test
(they poll every few milliseconds of real time), so they neither spin nor run ahead of it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import anyio

SLEEP_POLL_SECONDS = 0.02
MONOTONIC_START = 1_000_000.0


class FakeClock:
    def __init__(self, start: float | None = None) -> None:
        self._epoch = time.time() if start is None else start
        self._offset = 0.0
        self._lock = threading.Lock()  # the test's thread moves it while the app's threads read it

    def __repr__(self) -> str:
        return f"FakeClock({self.now().isoformat()})"

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, "a clock never goes back"
        with self._lock:
            self._offset += seconds

    def time(self) -> float:
        with self._lock:
            return self._epoch + self._offset

    def monotonic(self) -> float:
        with self._lock:
            return MONOTONIC_START + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    async def sleep(self, seconds: float) -> None:
        deadline = self.monotonic() + seconds
        while self.monotonic() < deadline:
            await anyio.sleep(SLEEP_POLL_SECONDS)
