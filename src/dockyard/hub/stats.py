"""Pulls, counted in memory and written in batches, so pulls stay fast.

The registry calls the recorder synchronously on a GET's path; it only folds the pull into a dict.
The web process's ``activity-flush`` task writes the tallies every ``interval`` seconds through
ActivityStore, one transaction per flush; shutdown flushes what is left. Each process has its own
recorder; increments add up in the database. A pull changes nothing, so it is no outbox event:
losing under a second of counts when a process is killed is the documented trade-off. (Pushes and
deletions are outbox events, handled in activity.py.)

A flush that fails folds its tallies back in for the next round, so a locked database delays
statistics instead of losing them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio

from dockyard.hub.activity import ActivityStore, PullTally
from dockyard.registry.events import ManifestPulled

log = logging.getLogger(__name__)

MAX_PULL_KEYS = 100_000


@dataclass
class _Tally:
    count: int
    last: ManifestPulled


class ActivityRecorder:
    def __init__(self, store: ActivityStore, interval: float = 1.0) -> None:
        self.store = store
        self.interval = interval
        self._pulls: dict[tuple[str, str, str | None], _Tally] = {}

    def __call__(self, event: ManifestPulled) -> None:
        """The registry's pull listener: O(1), no I/O."""
        key = (event.repository, event.digest, event.tag)
        tally = self._pulls.get(key)
        if tally is not None:
            tally.count += 1
            tally.last = event
        elif len(self._pulls) < MAX_PULL_KEYS:
            self._pulls[key] = _Tally(1, event)

    @property
    def pending(self) -> bool:
        return bool(self._pulls)

    async def run(self) -> None:
        while True:
            await anyio.sleep(self.interval)
            await self.flush()

    async def flush(self) -> None:
        if not self.pending:
            return
        pulls, self._pulls = self._pulls, {}
        tallies = [PullTally(r, d, t, v.count, v.last.at) for (r, d, t), v in pulls.items()]
        try:
            await self.store.record_pulls(tallies)
        except Exception:
            log.exception("could not record pulls; retrying next round")
            for key, old in pulls.items():
                new = self._pulls.get(key)
                if new is None:
                    self._pulls[key] = old
                else:
                    new.count += old.count
