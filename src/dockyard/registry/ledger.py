"""Blob liveness: what a push does to a blob's row so that an online collector never takes a
blob from under it (the collector's side is ``registry/gc.py``; the README's "Garbage
collection" section tells the whole protocol).

    claim(digest, size)             before an upload's bytes move into the blob store: the row
                                    exists, touched now, and no collector is deleting the blob
                                    (if one is, wait until it is done: its file delete comes
                                    before our move, never after)
    link_claimed(repo, digest, ..)  after the move: link into the repository, if the row is
                                    still ours (a collector that marked it meanwhile wins and
                                    the upload fails cleanly, BLOB_UPLOAD_INVALID)
    mount(repo, source, digest)     link a blob another repository has, touched now, only while
                                    its row stands unmarked (never recreates a collected row)
    (both links also check the namespace's quota in their transaction: quotas.py)
    touch(repo, digest)             a HEAD by a pushing client: "I will reference this"

Every step is one write transaction that reads the row it depends on (``FOR SHARE`` where the
database has row locks; SQLite runs one writer at a time): the collector's mark is a transaction
too, so each of these either happens wholly before a mark (and the mark sees the fresh touch) or
wholly after (and sees the mark).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.engine import Connection

from dockyard.clock import utc
from dockyard.db.engine import offload
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.quotas import require_room
from dockyard.registry.records import RepositoryIdentity
from dockyard.registry.store import MetadataStore, blobs, identity_of, links, repositories

# How long an upload waits for a collector that is deleting the same digest (a batch's file
# deletes take well under a second; a crashed collector's marks are finished by the next run).
CLAIM_WAIT_SECONDS = 30.0
CLAIM_POLL_SECONDS = 0.05
# A HEAD rewrites touched_at only when it is older than this: one write per blob per minute.
TOUCH_EVERY = timedelta(seconds=60)

LAST_TOUCH = func.coalesce(blobs.c.touched_at, blobs.c.created_at)


def _now() -> datetime:
    return datetime.now(UTC)


class BlobSwept(RegistryError):
    def __init__(self, digest: str) -> None:
        super().__init__(
            ErrorCode.BLOB_UPLOAD_INVALID,
            {"digest": digest},
            message="the blob was garbage-collected while it was being pushed; push again",
        )


class BlobLedger:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        self.db = store.db

    async def claim(self, digest: str, size: int) -> None:
        deadline = time.monotonic() + CLAIM_WAIT_SECONDS
        while not await self._claim(digest, size):
            if time.monotonic() > deadline:
                raise BlobSwept(digest)
            await anyio.sleep(CLAIM_POLL_SECONDS)

    @offload
    def _claim(self, digest: str, size: int) -> bool:
        """Touch (or create) the row; False while a collector holds it."""
        now = _now()
        with self.store._writing() as conn:
            row = conn.execute(_locked_blob(digest)).first()
            if row is None:
                conn.execute(blobs.insert().values(digest=digest, size=size, created_at=now, touched_at=now))
                return True
            if row.sweep_id is not None:
                return False
            conn.execute(update(blobs).where(blobs.c.digest == digest).values(touched_at=now))
            return True

    @offload
    def link_claimed(
        self, repository: str, digest: str, size: int, identity: RepositoryIdentity | None
    ) -> bool:
        """Link a claimed blob into the incarnation of ``repository`` the upload began in; False
        when that one is gone. Raises BlobSwept when a collector took the blob meanwhile."""
        now = _now()
        with self.store._writing() as conn:
            row = conn.execute(_locked_blob(digest)).first()
            if row is None or row.sweep_id is not None:
                raise BlobSwept(digest)
            if identity is None:  # a session older than identities: the name is all it knows
                repo_id = self.store._ensure_repository(conn, repository)
            elif identity_of(conn, repository) == identity:
                repo_id = identity.id
            else:
                return False
            require_room(conn, repository, digest, size)  # the namespace's quota (quotas.py)
            self._link(conn, repo_id, digest, now)
            return True

    @offload
    def mount(self, repository: str, source: str, digest: str) -> int | None:
        """Link ``digest`` from ``source`` into ``repository``; its size, or None when the source
        has no such link or a collector is deleting the blob."""
        query = (
            _locked_blob(digest)
            .add_columns(blobs.c.size)
            .join(links, links.c.digest == blobs.c.digest)
            .join(repositories, repositories.c.id == links.c.repository_id)
            .where(repositories.c.name == source)
        )
        with self.store._writing() as conn:
            row = conn.execute(query).first()
            if row is None or row.sweep_id is not None:
                return None
            require_room(conn, repository, digest, int(row.size))
            self._link(conn, self.store._ensure_repository(conn, repository), digest, _now())
            return int(row.size)

    async def touch(self, repository: str, digest: str) -> None:
        """A pushing client checked the blob exists: keep it young for the grace period."""
        if await self._stale(repository, digest):
            await self._touch(digest)

    @offload
    def _stale(self, repository: str, digest: str) -> bool:
        query = (
            select(LAST_TOUCH)
            .select_from(links.join(blobs).join(repositories))
            .where(repositories.c.name == repository, links.c.digest == digest)
        )
        with self.db.read.connect() as conn:
            touched = conn.execute(query).scalar_one_or_none()
        return touched is not None and utc(touched) < _now() - TOUCH_EVERY

    @offload
    def _touch(self, digest: str) -> None:
        with self.store._writing() as conn:
            conn.execute(
                update(blobs)
                .where(and_(blobs.c.digest == digest, blobs.c.sweep_id.is_(None)))
                .values(touched_at=_now())
            )

    def _link(self, conn: Connection, repo_id: int, digest: str, now: datetime) -> None:
        conn.execute(
            self.store._insert(links)
            .values(repository_id=repo_id, digest=digest, created_at=now)
            .on_conflict_do_nothing()
        )
        conn.execute(update(blobs).where(blobs.c.digest == digest).values(touched_at=now))


def _locked_blob(digest: str) -> Select[Any]:
    """The row, share-locked until the transaction ends (no-op on SQLite, which serialises writers)."""
    return (
        select(blobs.c.digest, blobs.c.sweep_id)
        .where(blobs.c.digest == digest)
        .with_for_update(read=True, of=blobs)
    )
