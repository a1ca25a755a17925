"""The registry's events, buffered in memory and written in batches, so pulls stay fast.

The EventBus calls the recorder synchronously on the request's path; it only folds the event
into a dict or appends it to a list. A background task (``run``) flushes every ``interval``
seconds through ActivityStore, one transaction per flush; shutdown flushes what is left. Each
worker process has its own recorder; increments add up in the database, so that is fine.

A flush that fails keeps its events for the next round (up to ``MAX_PENDING_PUSHES`` pushes,
which carry webhooks; pull tallies are folded back in), so a locked database delays stats
instead of losing them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio

from dockyard.hub.activity import ActivityStore, PullTally
from dockyard.registry.events import Event, ManifestPulled, ManifestPushed

log = logging.getLogger(__name__)

MAX_PENDING_PUSHES = 100_000
MAX_PULL_KEYS = 100_000


@dataclass
class _Tally:
    count: int
    last: ManifestPulled


class ActivityRecorder:
    def __init__(self, store: ActivityStore, interval: float = 1.0) -> None:
        self.store = store
        self.interval = interval
        self._pushes: list[ManifestPushed] = []
        self._pulls: dict[tuple[str, str, str | None], _Tally] = {}

    def __call__(self, event: Event) -> None:
        """The EventBus listener: O(1), no I/O."""
        if isinstance(event, ManifestPulled):
            key = (event.repository, event.digest, event.tag)
            tally = self._pulls.get(key)
            if tally is not None:
                tally.count += 1
                tally.last = event
            elif len(self._pulls) < MAX_PULL_KEYS:
                self._pulls[key] = _Tally(1, event)
        elif isinstance(event, ManifestPushed):
            if len(self._pushes) < MAX_PENDING_PUSHES:
                self._pushes.append(event)
            else:
                log.error("activity buffer full; dropped push of %s@%s", event.repository, event.digest)

    @property
    def pending(self) -> bool:
        return bool(self._pushes or self._pulls)

    async def run(self) -> None:
        while True:
            await anyio.sleep(self.interval)
            await self.flush()

    async def flush(self) -> None:
        if not self.pending:
            return
        pushes, self._pushes = self._pushes, []
        pulls, self._pulls = self._pulls, {}
        tallies = [PullTally(r, d, t, v.count, v.last.at) for (r, d, t), v in pulls.items()]
        try:
            await self.store.record(pushes, tallies)
        except Exception:
            log.exception("could not record registry activity; retrying next round")
            self._pushes[:0] = pushes[: MAX_PENDING_PUSHES - len(self._pushes)]
            for key, old in pulls.items():
                new = self._pulls.get(key)
                if new is None:
                    self._pulls[key] = old
                else:
                    new.count += old.count
