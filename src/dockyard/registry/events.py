"""What happened in the registry, for whoever above wants to know (hub, builds, accounts).

Changes are outbox events (``dockyard.events``), written by the store in the transaction of the
change and handled by whatever the composition root registered for their kind:

    manifest.pushed       ManifestPushed    a manifest PUT (by tag or digest), with its tags
    tag.deleted           ManifestDeleted   an untag (DELETE by tag)
    manifest.deleted      ManifestDeleted   a manifest DELETE by digest (its tags go with it)
    repository.deleted    RepositoryDeleted the repository and everything of it in the registry

Each carries ``repository_id``, the incarnation it happened to: a handler that finds the name
belonging to another id (deleted and pushed again since) knows the event is about the old one.

Pulls change nothing, so they are not outbox events: ``ManifestPulled`` goes to the in-memory
listeners of ``PullListeners`` (the hub folds them into counters it writes in batches).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dockyard.events import Event

log = logging.getLogger(__name__)

PUSHED = "manifest.pushed"
TAG_DELETED = "tag.deleted"
MANIFEST_DELETED = "manifest.deleted"
REPOSITORY_DELETED = "repository.deleted"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ManifestPushed:
    repository: str  # canonical name
    repository_id: int
    digest: str
    media_type: str
    tags: tuple[str, ...]  # empty for a push by digest
    actor: str | None
    ip: str | None = None
    at: datetime = field(default_factory=_now)

    def event(self) -> Event:
        payload = {
            "repository": self.repository,
            "repository_id": self.repository_id,
            "digest": self.digest,
            "media_type": self.media_type,
            "tags": list(self.tags),
            "ip": self.ip,
        }
        return Event(PUSHED, payload, self.actor, self.at)

    @classmethod
    def of(cls, event: Event) -> ManifestPushed:
        p = event.payload
        return cls(
            p["repository"],
            int(p["repository_id"]),
            p["digest"],
            p["media_type"],
            tuple(p["tags"]),
            event.actor,
            p.get("ip"),
            event.at,
        )


@dataclass(frozen=True, slots=True)
class ManifestDeleted:
    repository: str
    repository_id: int
    reference: str  # a digest, or a tag for an untag
    actor: str | None
    ip: str | None = None
    at: datetime = field(default_factory=_now)

    def event(self, kind: str) -> Event:
        payload = {
            "repository": self.repository,
            "repository_id": self.repository_id,
            "reference": self.reference,
            "ip": self.ip,
        }
        return Event(kind, payload, self.actor, self.at)

    @classmethod
    def of(cls, event: Event) -> ManifestDeleted:
        p = event.payload
        return cls(
            p["repository"], int(p["repository_id"]), p["reference"], event.actor, p.get("ip"), event.at
        )


@dataclass(frozen=True, slots=True)
class RepositoryDeleted:
    repository: str
    repository_id: int
    actor: str | None
    at: datetime = field(default_factory=_now)

    def event(self) -> Event:
        payload: dict[str, Any] = {"repository": self.repository, "repository_id": self.repository_id}
        return Event(REPOSITORY_DELETED, payload, self.actor, self.at)

    @classmethod
    def of(cls, event: Event) -> RepositoryDeleted:
        p = event.payload
        return cls(p["repository"], int(p["repository_id"]), event.actor, event.at)


@dataclass(frozen=True, slots=True)
class ManifestPulled:
    """A manifest GET (HEADs are not pulls, as on Docker Hub)."""

    repository: str
    digest: str
    tag: str | None
    actor: str | None
    at: datetime = field(default_factory=_now)


PullListener = Callable[[ManifestPulled], None]


class PullListeners:
    """Synchronous, in-memory: a listener only records the pull (folds it into a counter) and
    does its I/O elsewhere, because every GET calls it."""

    def __init__(self) -> None:
        self._listeners: list[PullListener] = []

    def subscribe(self, listener: PullListener) -> None:
        self._listeners.append(listener)

    def publish(self, event: ManifestPulled) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a broken listener must never fail a pull
                log.exception("pull listener failed")
