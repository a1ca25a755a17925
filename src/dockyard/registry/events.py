"""What happened in the registry, for whoever above wants to know (hub stats, webhooks, audit).

The registry publishes; it never knows who listens. Publishing is synchronous and must stay
cheap, because pulls publish too: a listener only records the event (appends to a buffer,
puts it on a queue) and does its I/O elsewhere, in its own task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ManifestPushed:
    repository: str  # canonical name
    digest: str
    media_type: str
    tags: tuple[str, ...]  # empty for a push by digest
    actor: str | None
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class ManifestPulled:
    """A manifest GET (HEADs are not pulls, as on Docker Hub)."""

    repository: str
    digest: str
    tag: str | None
    actor: str | None
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class ManifestDeleted:
    repository: str
    reference: str  # a digest, or a tag for an untag
    actor: str | None
    at: datetime = field(default_factory=_now)


Event = ManifestPushed | ManifestPulled | ManifestDeleted
Listener = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def publish(self, event: Event) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a broken listener must never fail a push or a pull
                log.exception("registry event listener failed on %s", type(event).__name__)
