"""What the hub keeps of the registry's activity: pulls (counted, last pulled), pushes (pusher, last
pushed) and the webhook deliveries a push of a tag queues; and what it drops when a repository goes.

Pushes and deletions arrive as outbox events (``dockyard.events``), handled in the dispatcher's
transaction, so a push that was acknowledged always gets its statistics and its webhooks, even if
the server died right after answering it:

    ActivityHandlers.pushed(conn, events)             manifest.pushed (a run of them at once)
    ActivityHandlers.repository_deleted(conn, event)  repository.deleted

Pulls change nothing in the registry, so they are counted in memory (stats.py) and written by
``ActivityStore.record_pulls``, one transaction per flush. What counts as a pull: a manifest GET by
tag, or by the digest of a manifest that is not a platform image of an index in the same
repository. So ``docker pull`` of a multi-platform tag counts once (the index, not the image it then
fetches), whether the client GETs by tag (classic docker) or resolves with a HEAD and GETs by digest
(containerd). HEADs are never pulls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from dockyard.db.engine import Database, offload
from dockyard.events import Event
from dockyard.hub import webhooks as payloads
from dockyard.hub.attempts import attempts
from dockyard.hub.tables import (
    deliveries,
    manifest_activity,
    repository_stats,
    stars,
    tag_activity,
    webhooks,
)
from dockyard.registry import views
from dockyard.registry.events import ManifestPushed, RepositoryDeleted


@dataclass(frozen=True, slots=True)
class PullTally:
    """Manifest GETs of one (repository, digest, tag), folded together in memory."""

    repository: str
    digest: str
    tag: str | None
    count: int
    last_at: datetime


ANY_HOOK = select(webhooks.c.id).where(webhooks.c.repository_id == bindparam("repo_id")).limit(1)
ACTIVE_HOOKS = select(webhooks.c.id).where(
    webhooks.c.repository_id == bindparam("repo_id"),
    webhooks.c.active == true(),
    webhooks.c.created_at <= bindparam("at"),
)


class ActivityStore:
    def __init__(self, database: Database) -> None:
        self.db = database
        self._insert = postgresql.insert if database.dialect == "postgresql" else sqlite.insert

    @offload
    def record_pulls(self, pulls: Sequence[PullTally]) -> None:
        """Write a batch of pull tallies in one transaction."""
        if not pulls:
            return
        with self.db.write.begin() as conn:
            ids = views.repository_ids(conn, {p.repository for p in pulls})
            for tally in pulls:
                repo_id = ids.get(tally.repository)
                if repo_id is None:
                    continue
                if tally.tag is None and views.is_platform_image(conn, repo_id, tally.digest):
                    tally = PullTally(tally.repository, tally.digest, None, 0, tally.last_at)
                self._record_pull(conn, repo_id, tally)

    def _upsert(
        self, conn: Connection, table: Any, keys: list[str], values: dict[str, Any], **set_: Any
    ) -> None:
        stmt = self._insert(table).values(**values)
        changes = {
            name: (value if value is not None else stmt.excluded[name]) for name, value in set_.items()
        }
        conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changes))

    def _record_pull(self, conn: Connection, repo_id: int, tally: PullTally) -> None:
        at = tally.last_at
        if tally.count:
            # The count lives on the repository's row, where listings order by it.
            views.count_pulls(conn, repo_id, tally.count)
            self._upsert(
                conn,
                repository_stats,
                ["repository_id"],
                {"repository_id": repo_id, "last_pulled_at": at},
                last_pulled_at=None,
            )
        self._upsert(
            conn,
            manifest_activity,
            ["repository_id", "digest"],
            {"repository_id": repo_id, "digest": tally.digest, "last_pulled_at": at},
            last_pulled_at=None,
        )
        if tally.tag is not None:
            values = {
                "repository_id": repo_id,
                "tag": tally.tag,
                "last_pulled_at": at,
                "pull_count": tally.count,
            }
            counted = tag_activity.c.pull_count + tally.count
            self._upsert(
                conn, tag_activity, ["repository_id", "tag"], values, last_pulled_at=None, pull_count=counted
            )


class ActivityHandlers:
    """The hub's handlers of the registry's outbox events (registered by services.py). Statements
    are built once: a dispatcher runs these for every push, and building one costs more than
    running it."""

    def __init__(self, database: Database, base_url: str) -> None:
        self.store = ActivityStore(database)
        self.base_url = base_url
        insert = self.store._insert
        digest = insert(manifest_activity).values(
            repository_id=bindparam("repo_id"), digest=bindparam("digest"), last_pushed_at=bindparam("at")
        )
        self._digest_pushed = digest.on_conflict_do_update(
            index_elements=["repository_id", "digest"],
            set_={"last_pushed_at": digest.excluded.last_pushed_at},
        )
        tag = insert(tag_activity).values(
            repository_id=bindparam("repo_id"),
            tag=bindparam("tag"),
            last_pushed_at=bindparam("at"),
            pusher=bindparam("actor"),
            creator=bindparam("actor"),
        )  # creator only on the first push: the update leaves it
        self._tag_pushed = tag.on_conflict_do_update(
            index_elements=["repository_id", "tag"],
            set_={"last_pushed_at": tag.excluded.last_pushed_at, "pusher": tag.excluded.pusher},
        )

    def pushed(self, conn: Connection, events: Sequence[Event]) -> None:
        """A run of pushes: their statistics in one ``executemany`` per table, and the webhooks
        of those pushed to a repository that has any."""
        cards: dict[int, views.RepositoryCard | None] = {}
        live: list[tuple[views.RepositoryCard, ManifestPushed]] = []
        for push in map(ManifestPushed.of, events):
            if push.repository_id not in cards:
                cards[push.repository_id] = views.repository_card(conn, push.repository_id)
            card = cards[push.repository_id]
            if card is not None and card.name == push.repository:  # else deleted since: nothing to keep
                live.append((card, push))
        if not live:
            return
        rows = [{"repo_id": c.id, "digest": p.digest, "at": p.at, "actor": p.actor} for c, p in live]
        conn.execute(self._digest_pushed, rows)
        tagged = [{**row, "tag": tag} for row, (_, p) in zip(rows, live, strict=True) for tag in p.tags]
        if tagged:
            conn.execute(self._tag_pushed, tagged)
        repo_ids = {card.id for card, _ in live}  # asked once per repository, not per push
        hooked = {i for i in repo_ids if conn.execute(ANY_HOOK, {"repo_id": i}).first() is not None}
        for card, push in live:
            if push.tags and card.id in hooked:
                self._queue_webhooks(conn, card, push)

    def _queue_webhooks(self, conn: Connection, card: views.RepositoryCard, push: ManifestPushed) -> int:
        # Only webhooks that existed when the push happened: events are handled a moment later,
        # so one added in between must not receive the earlier push.
        hooks = conn.execute(ACTIVE_HOOKS, {"repo_id": card.id, "at": push.at}).scalars().all()
        if not hooks:
            return 0
        star_count = conn.execute(
            select(func.count()).select_from(stars).where(stars.c.repository_id == card.id)
        ).scalar_one()
        rows: list[dict[str, Any]] = []
        for hook_id in hooks:
            for tag in push.tags:
                payload = payloads.push_payload(
                    base_url=self.base_url,
                    webhook_id=hook_id,
                    repository=card.name,
                    tag=tag,
                    pusher=push.actor,
                    pushed_at=push.at,
                    created_at=card.created_at,
                    description=card.description,
                    full_description=card.full_description,
                    is_private=card.is_private,
                    star_count=int(star_count),
                )
                rows.append(
                    {
                        "webhook_id": hook_id,
                        "event": "push",
                        "payload": payload,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": push.at,
                        "created_at": push.at,
                    }
                )
        conn.execute(deliveries.insert(), rows)
        return len(rows)

    @staticmethod
    def repository_deleted(conn: Connection, event: Event) -> None:
        """Its webhooks (with their deliveries and attempts), stars and statistics. Usually the
        database's ON DELETE CASCADE did it already; explicit, so it holds where it does not, and
        only while no repository has the id again (SQLite may reuse a deleted row's id)."""
        repo_id = RepositoryDeleted.of(event).repository_id
        if views.repository_card(conn, repo_id) is not None:
            return
        hook_ids = select(webhooks.c.id).where(webhooks.c.repository_id == repo_id)
        sent = select(deliveries.c.id).where(deliveries.c.webhook_id.in_(hook_ids))
        conn.execute(delete(attempts).where(attempts.c.delivery_id.in_(sent)))
        conn.execute(delete(deliveries).where(deliveries.c.webhook_id.in_(hook_ids)))
        for table in (webhooks, stars, repository_stats, tag_activity, manifest_activity):
            conn.execute(delete(table).where(table.c.repository_id == repo_id))
