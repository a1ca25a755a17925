"""Online garbage collection: mark (``gc_plan.py``), then sweep in short transactions while the
registry keeps serving pushes and pulls.

    collect(grace_seconds, dry_run=False, trigger="cli") -> GcReport

A run, with cutoff = its start - grace:
    1. finishes the blob deletions of a run that died half-way (its marks outlived its heartbeat)
    2. plans from one read of the metadata
    3. deletes unreachable manifests, each in a transaction that checks again that it is untagged,
       older than the cutoff, listed by no index and not a referrer of a manifest still there
    4. deletes unused links, each checked again the same way
    5. deletes unused blobs in three steps per batch:
         mark     one transaction: the row still unused and untouched since the cutoff, and no
                  other run's mark, gets ``sweep_id`` = this run; its links go
         delete   the files, outside any transaction
         forget   one transaction: the marked rows go
       An upload of the same digest claims the row before it moves its bytes into place
       (``ledger.py``): a claim that finds a mark waits for the forget, so the move lands after
       our file delete; a claim that came first touched the row, so the mark skips it. A manifest
       PUT checks its blobs' links inside its own transaction (``store.put_manifest``): it either
       sees them gone and fails with MANIFEST_BLOB_UNKNOWN, or commits first and the mark sees
       the new reference. So a push the client saw succeed always pulls whole.
    6. removes upload sessions untouched for DOCKYARD_UPLOAD_TTL_SECONDS
Each run is a row of ``gc_runs`` with what it freed; ``--dry-run`` plans and records, and deletes
nothing.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar, cast

from sqlalchemy import Table, and_, delete, exists, insert, select, update
from sqlalchemy.engine import Connection

from dockyard.clock import utc
from dockyard.db.engine import offload
from dockyard.digests import Digest
from dockyard.events import outbox
from dockyard.registry.events import MANIFEST_DELETED, ManifestDeleted
from dockyard.registry.gc_plan import Candidate, Key, Plan, plan
from dockyard.registry.ledger import LAST_TOUCH
from dockyard.registry.models import GcRun
from dockyard.registry.records import Actor
from dockyard.registry.store import MetadataStore, blobs, links, manifests, references, repositories, tags
from dockyard.registry.uploads import UploadService
from dockyard.storage import PathNotFound, StorageDriver, paths

log = logging.getLogger(__name__)
runs = cast(Table, GcRun.__table__)
T = TypeVar("T")

BATCH = 200
# A run whose heartbeat is older than this is dead: the next run finishes its marked deletions.
DEAD_AFTER = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class GcReport:
    run_id: str
    dry_run: bool
    manifests: int
    links: int
    blobs: int
    bytes: int
    uploads: int
    seconds: float

    def summary(self) -> str:
        verb = "would free" if self.dry_run else "freed"
        return (
            f"garbage collection {verb} {self.bytes} bytes: {self.manifests} manifests, {self.blobs} blobs, "
            f"{self.links} links, {self.uploads} upload sessions ({self.seconds:.2f} s, run {self.run_id})"
        )


@dataclass
class _Tally:
    manifests: int = 0
    links: int = 0
    blobs: int = 0
    bytes: int = 0
    uploads: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


class Collector:
    def __init__(
        self,
        storage: StorageDriver,
        store: MetadataStore,
        uploads: UploadService,
        observe: Callable[[int], None] | None = None,
        spare: Callable[[datetime], Awaitable[set[int]]] | None = None,
    ) -> None:
        self.storage = storage
        self.store = store
        self.uploads = uploads
        self.observe = observe  # told the bytes each run freed (the metrics)
        # Untagged manifests kept by a retention policy's untagged_days (hub/retention.py).
        self.spare = spare

    async def collect(
        self,
        grace_seconds: float,
        *,
        dry_run: bool = False,
        trigger: str = "cli",
        upload_ttl_seconds: float | None = None,
    ) -> GcReport:
        started, clock = _now(), time.monotonic()
        run_id = str(uuid.uuid4())
        cutoff = started - timedelta(seconds=grace_seconds)
        await self._begin(run_id, started, trigger, dry_run, grace_seconds)
        tally = _Tally()
        try:
            await self._sweep(run_id, cutoff, dry_run, tally, upload_ttl_seconds)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await self._finish(run_id, tally, repr(exc))
            raise
        await self._finish(run_id, tally, None)
        report = GcReport(
            run_id, dry_run, tally.manifests, tally.links, tally.blobs, tally.bytes, tally.uploads,
            time.monotonic() - clock,
        )  # fmt: skip
        log.info("%s", report.summary())
        if self.observe is not None and not dry_run:
            self.observe(report.bytes)
        return report

    async def _sweep(
        self, run_id: str, cutoff: datetime, dry_run: bool, tally: _Tally, upload_ttl: float | None
    ) -> None:
        if not dry_run:
            await self._delete_blobs(run_id, await self._adopt(run_id), tally)
        spared = await self.spare(_now()) if self.spare is not None else set()
        found = await self._plan(cutoff, spared)
        if dry_run:
            tally.manifests, tally.links = len(found.manifests), len(found.links)
            tally.blobs, tally.bytes = len(found.blobs), found.bytes
            return
        tally.manifests = await self._delete_manifests(run_id, found.manifests, cutoff)
        for batch in _batches(found.links):
            tally.links += await self._delete_links(run_id, batch, cutoff)
        for candidates in _batches(found.blobs):
            await self._delete_blobs(run_id, await self._mark(run_id, candidates, cutoff), tally)
        if upload_ttl is not None:
            tally.uploads = await self.uploads.purge_stale(upload_ttl)

    # -- runs ---------------------------------------------------------------------------------

    @offload
    def _begin(self, run_id: str, at: datetime, trigger: str, dry_run: bool, grace: float) -> None:
        with self.store._writing() as conn:
            conn.execute(
                insert(runs).values(
                    id=run_id, started_at=at, heartbeat_at=at, trigger=trigger, dry_run=dry_run,
                    grace_seconds=int(grace), manifests_deleted=0, links_deleted=0, blobs_deleted=0,
                    bytes_freed=0, uploads_removed=0,
                )
            )  # fmt: skip

    @offload
    def _finish(self, run_id: str, tally: _Tally, error: str | None) -> None:
        with self.store._writing() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(
                    finished_at=_now(), heartbeat_at=_now(), manifests_deleted=tally.manifests,
                    links_deleted=tally.links, blobs_deleted=tally.blobs, bytes_freed=tally.bytes,
                    uploads_removed=tally.uploads, error=error,
                )
            )  # fmt: skip

    @staticmethod
    def _heartbeat(conn: Connection, run_id: str) -> None:
        conn.execute(update(runs).where(runs.c.id == run_id).values(heartbeat_at=_now()))

    @offload
    def _adopt(self, run_id: str) -> list[Candidate]:
        """Take over the marks of runs that died mid-sweep; their rows are deleted by this run."""
        alive = select(runs.c.id).where(
            runs.c.finished_at.is_(None), runs.c.heartbeat_at >= _now() - DEAD_AFTER
        )
        orphaned = and_(blobs.c.sweep_id.is_not(None), blobs.c.sweep_id.not_in(alive))
        with self.store._writing() as conn:
            conn.execute(update(blobs).where(orphaned).values(sweep_id=run_id))
            rows = conn.execute(select(blobs.c.digest, blobs.c.size).where(blobs.c.sweep_id == run_id))
            return [Candidate(row.digest, int(row.size)) for row in rows]

    # -- mark -----------------------------------------------------------------------------------

    @offload
    def _plan(self, cutoff: datetime, spared: set[int]) -> Plan:
        with self.store.db.read.connect() as conn:
            return plan(conn, cutoff, spared)

    # -- manifests ------------------------------------------------------------------------------

    async def _delete_manifests(self, run_id: str, ids: list[int], cutoff: datetime) -> int:
        """Delete in passes: a child becomes deletable once the index listing it is gone."""
        deleted, pending = 0, ids
        while pending:
            done: list[int] = []
            for batch in _batches(pending):
                done += await self._delete_manifest_batch(run_id, batch, cutoff)
            if not done:
                break
            deleted += len(done)
            gone = set(done)
            pending = [mid for mid in pending if mid not in gone]
        return deleted

    @offload
    def _delete_manifest_batch(self, run_id: str, ids: Sequence[int], cutoff: datetime) -> list[int]:
        done = []
        with self.store._writing() as conn:
            for manifest_id in ids:
                if _manifest_unreachable(conn, manifest_id, cutoff):
                    conn.execute(delete(references).where(references.c.manifest_id == manifest_id))
                    conn.execute(delete(manifests).where(manifests.c.id == manifest_id))
                    done.append(manifest_id)
            self._heartbeat(conn, run_id)
        return done

    # -- links ----------------------------------------------------------------------------------

    @offload
    def _delete_links(self, run_id: str, keys: Sequence[Key], cutoff: datetime) -> int:
        deleted = 0
        with self.store._writing() as conn:
            for repo_id, digest in keys:
                if _link_unused(conn, repo_id, digest, cutoff):
                    where = and_(links.c.repository_id == repo_id, links.c.digest == digest)
                    deleted += conn.execute(delete(links).where(where)).rowcount
            self._heartbeat(conn, run_id)
        return deleted

    # -- blobs ----------------------------------------------------------------------------------

    @offload
    def _mark(self, run_id: str, candidates: Sequence[Candidate], cutoff: datetime) -> list[Candidate]:
        marked = []
        with self.store._writing() as conn:
            for blob in candidates:
                if _blob_unused(conn, blob.digest, cutoff):
                    conn.execute(update(blobs).where(blobs.c.digest == blob.digest).values(sweep_id=run_id))
                    conn.execute(delete(links).where(links.c.digest == blob.digest))
                    marked.append(blob)
            self._heartbeat(conn, run_id)
        return marked

    async def _delete_blobs(self, run_id: str, marked: list[Candidate], tally: _Tally) -> None:
        if not marked:
            return
        for blob in marked:
            with contextlib.suppress(PathNotFound):
                await self.storage.delete(_blob_folder(blob.digest))
        tally.blobs += await self._forget(run_id, [blob.digest for blob in marked])
        tally.bytes += sum(blob.size for blob in marked)

    @offload
    def _forget(self, run_id: str, digests: list[str]) -> int:
        with self.store._writing() as conn:
            result = conn.execute(
                delete(blobs).where(blobs.c.digest.in_(digests), blobs.c.sweep_id == run_id)
            )
            self._heartbeat(conn, run_id)
            return result.rowcount


@offload
def delete_untagged(store: MetadataStore, repository: str, digest: str, actor: Actor) -> bool:
    """Delete ``repository@digest`` only while no tag, index or subject keeps it (retention's
    delete of an untagged manifest), with its ``manifest.deleted`` event; False when kept or gone.
    Its blobs go at the next collection."""
    with store._writing() as conn:
        query = (
            select(manifests.c.id, manifests.c.repository_id)
            .select_from(manifests.join(repositories))
            .where(repositories.c.name == repository, manifests.c.digest == digest)
        )
        row = conn.execute(query).first()
        if row is None or not _manifest_unreachable(conn, row.id, _now()):
            return False
        conn.execute(delete(references).where(references.c.manifest_id == row.id))
        conn.execute(delete(manifests).where(manifests.c.id == row.id))
        gone = ManifestDeleted(repository, int(row.repository_id), digest, actor.name, actor.ip)
        outbox.add(conn, gone.event(MANIFEST_DELETED))
        return True


def _manifest_unreachable(conn: Connection, manifest_id: int, cutoff: datetime) -> bool:
    row = conn.execute(
        select(
            manifests.c.repository_id, manifests.c.digest, manifests.c.subject_digest, manifests.c.created_at
        )
        .where(manifests.c.id == manifest_id)
        .with_for_update()
    ).first()
    if row is None or utc(row.created_at) >= cutoff:
        return False
    in_repo = manifests.c.repository_id == row.repository_id
    tagged = exists().where(tags.c.manifest_id == manifest_id)
    listed = (
        exists()
        .where(references.c.manifest_id == manifests.c.id)
        .where(in_repo, references.c.kind == "manifest", references.c.digest == row.digest)
    )
    subject = exists().where(in_repo, manifests.c.digest == (row.subject_digest or ""))
    return not conn.execute(select(tagged | listed | subject)).scalar_one()


def _link_unused(conn: Connection, repo_id: int, digest: str, cutoff: datetime) -> bool:
    row = conn.execute(
        select(links.c.created_at, LAST_TOUCH.label("touched"))
        .select_from(links.join(blobs))
        .where(links.c.repository_id == repo_id, links.c.digest == digest)
        .with_for_update()
    ).first()
    if row is None or utc(row.created_at) >= cutoff or utc(row.touched) >= cutoff:
        return False
    used = (
        exists()
        .where(references.c.manifest_id == manifests.c.id)
        .where(
            manifests.c.repository_id == repo_id, references.c.kind == "blob", references.c.digest == digest
        )
    )
    return not conn.execute(select(used)).scalar_one()


def _blob_unused(conn: Connection, digest: str, cutoff: datetime) -> bool:
    row = conn.execute(
        select(blobs.c.sweep_id, LAST_TOUCH.label("touched"))
        .where(blobs.c.digest == digest)
        .with_for_update()
    ).first()
    if row is None or row.sweep_id is not None or utc(row.touched) >= cutoff:
        return False
    conn.execute(select(links.c.digest).where(links.c.digest == digest).with_for_update()).all()
    used = exists().where(references.c.kind == "blob", references.c.digest == digest)
    return not conn.execute(select(used)).scalar_one()


def _blob_folder(digest: str) -> str:
    return paths.blob_data(Digest.parse(digest)).rsplit("/", 1)[0]


def _batches(items: Sequence[T], size: int = BATCH) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
