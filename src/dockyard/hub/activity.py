"""Writes what the registry reports: pulls (counted, last pulled), pushes (pusher, last pushed)
and the webhook deliveries a push of a tag queues. One write transaction per flush of the
in-memory buffer (stats.py), whatever the number of events in it.

What counts as a pull: a manifest GET by tag, or by the digest of a manifest that is not a
platform image of an index in the same repository. So ``docker pull`` of a multi-platform tag
counts once (the index, not the image it then fetches), whether the client GETs by tag (classic
docker) or resolves with a HEAD and GETs by digest (containerd). HEADs are never pulls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from dockyard.db.engine import Database, offload
from dockyard.hub import webhooks as payloads
from dockyard.hub.tables import (
    deliveries,
    manifest_activity,
    manifests,
    references,
    repositories,
    repository_stats,
    stars,
    tag_activity,
    utc,
    webhooks,
)
from dockyard.registry.events import ManifestPushed


@dataclass(frozen=True, slots=True)
class PullTally:
    """Manifest GETs of one (repository, digest, tag), folded together in memory."""

    repository: str
    digest: str
    tag: str | None
    count: int
    last_at: datetime


class ActivityStore:
    def __init__(self, database: Database, base_url: str) -> None:
        self.db = database
        self.base_url = base_url
        self._insert = postgresql.insert if database.dialect == "postgresql" else sqlite.insert

    @offload
    def record(self, pushes: Sequence[ManifestPushed], pulls: Sequence[PullTally]) -> int:
        """Write a batch; returns the number of webhook deliveries queued."""
        names = {e.repository for e in pushes} | {p.repository for p in pulls}
        if not names:
            return 0
        with self.db.write.begin() as conn:
            ids = dict(
                conn.execute(
                    select(repositories.c.name, repositories.c.id).where(repositories.c.name.in_(names))
                ).all()
            )
            for tally in self._counted(conn, ids, pulls):
                self._record_pull(conn, ids[tally.repository], tally)
            queued = 0
            for event in pushes:
                if event.repository in ids:
                    queued += self._record_push(conn, ids[event.repository], event)
        return queued

    # -- pulls --------------------------------------------------------------------------------

    def _counted(self, conn: Connection, ids: dict[str, int], pulls: Sequence[PullTally]) -> list[PullTally]:
        """The tallies of existing repositories, with platform-image GETs made uncounted."""
        result = []
        for tally in pulls:
            repo_id = ids.get(tally.repository)
            if repo_id is None:
                continue
            if tally.tag is None and self._is_platform_image(conn, repo_id, tally.digest):
                tally = PullTally(tally.repository, tally.digest, None, 0, tally.last_at)
            result.append(tally)
        return result

    @staticmethod
    def _is_platform_image(conn: Connection, repo_id: int, digest: str) -> bool:
        query = (
            select(references.c.id)
            .select_from(references.join(manifests, references.c.manifest_id == manifests.c.id))
            .where(
                manifests.c.repository_id == repo_id,
                references.c.kind == "manifest",
                references.c.digest == digest,
            )
            .limit(1)
        )
        return conn.execute(query).first() is not None

    def _record_pull(self, conn: Connection, repo_id: int, tally: PullTally) -> None:
        at = tally.last_at
        if tally.count:
            # The count lives on the repository's row, where listings order by it.
            conn.execute(
                update(repositories)
                .where(repositories.c.id == repo_id)
                .values(pull_count=repositories.c.pull_count + tally.count)
            )
            stmt = self._insert(repository_stats).values(repository_id=repo_id, last_pulled_at=at)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["repository_id"],
                    set_={"last_pulled_at": stmt.excluded.last_pulled_at},
                )
            )
        stmt = self._insert(manifest_activity).values(
            repository_id=repo_id, digest=tally.digest, last_pulled_at=at
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["repository_id", "digest"],
                set_={"last_pulled_at": stmt.excluded.last_pulled_at},
            )
        )
        if tally.tag is not None:
            stmt = self._insert(tag_activity).values(
                repository_id=repo_id, tag=tally.tag, last_pulled_at=at, pull_count=tally.count
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["repository_id", "tag"],
                    set_={
                        "last_pulled_at": stmt.excluded.last_pulled_at,
                        "pull_count": tag_activity.c.pull_count + stmt.excluded.pull_count,
                    },
                )
            )

    # -- pushes and webhooks ------------------------------------------------------------------

    def _record_push(self, conn: Connection, repo_id: int, event: ManifestPushed) -> int:
        stmt = self._insert(manifest_activity).values(
            repository_id=repo_id, digest=event.digest, last_pushed_at=event.at
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["repository_id", "digest"],
                set_={"last_pushed_at": stmt.excluded.last_pushed_at},
            )
        )
        for tag in event.tags:
            stmt = self._insert(tag_activity).values(
                repository_id=repo_id,
                tag=tag,
                last_pushed_at=event.at,
                pusher=event.actor,
                creator=event.actor,
            )  # creator only on the first push: the update below leaves it
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["repository_id", "tag"],
                    set_={"last_pushed_at": stmt.excluded.last_pushed_at, "pusher": stmt.excluded.pusher},
                )
            )
        if not event.tags:
            return 0
        return self._queue_webhooks(conn, repo_id, event)

    def _queue_webhooks(self, conn: Connection, repo_id: int, event: ManifestPushed) -> int:
        hooks = (
            conn.execute(
                # Only webhooks that existed when the push happened: events are flushed in batches,
                # so one added a second later must not receive the earlier push.
                select(webhooks.c.id).where(
                    webhooks.c.repository_id == repo_id,
                    webhooks.c.active == true(),
                    webhooks.c.created_at <= event.at,
                )
            )
            .scalars()
            .all()
        )
        if not hooks:
            return 0
        repo = conn.execute(select(repositories).where(repositories.c.id == repo_id)).one()
        star_count = conn.execute(
            select(func.count()).select_from(stars).where(stars.c.repository_id == repo_id)
        ).scalar_one()
        rows: list[dict[str, Any]] = []
        for hook_id in hooks:
            for tag in event.tags:
                payload = payloads.push_payload(
                    base_url=self.base_url,
                    webhook_id=hook_id,
                    repository=repo.name,
                    tag=tag,
                    pusher=event.actor,
                    pushed_at=event.at,
                    created_at=utc(repo.created_at),
                    description=repo.description,
                    full_description=repo.full_description,
                    is_private=bool(repo.is_private),
                    star_count=int(star_count),
                )
                rows.append(
                    {
                        "webhook_id": hook_id,
                        "event": "push",
                        "payload": payload,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": event.at,
                        "created_at": event.at,
                    }
                )
        conn.execute(deliveries.insert(), rows)
        return len(rows)
