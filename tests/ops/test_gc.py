"""The collector in-process: what it frees, what it spares, and the races it must survive,
each driven step by step (tests/ops/test_gc_e2e.py runs the same against real clients)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from dockyard.accounts.credentials import Passwords
from dockyard.accounts.records import Principal
from dockyard.accounts.service import AccountService
from dockyard.hub.service import HubService
from dockyard.registry import store as store_module
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.events import ManifestPushed
from dockyard.registry.gc import Collector
from dockyard.registry.immutability import refuse_moves
from dockyard.registry.ledger import BlobSwept
from dockyard.registry.prepared import Statements
from dockyard.registry.records import ManifestPut
from dockyard.registry.service import Registry
from dockyard.registry.store import blobs, links
from dockyard.secretbox import SecretBox
from dockyard.storage import StorageDriver
from tests.ops.conftest import Pusher

pytestmark = pytest.mark.anyio

REPO = "alice/app"
OPERATOR = Principal(username="", user_id=0, is_admin=True)


def layer(size: int = 2048) -> bytes:
    return os.urandom(size)


async def test_deleting_a_tag_frees_its_unshared_bytes_and_keeps_shared_ones(
    registry: Registry, collector: Collector, pusher: Pusher
) -> None:
    shared, only_a, only_b = layer(), layer(3000), layer()
    a = await pusher.image(REPO, "a", [shared, only_a])
    b = await pusher.image(REPO, "b", [shared, only_b])
    before = pusher.bytes_on_disk()
    await registry.delete_manifest(REPO, "a")

    report = await collector.collect(0)

    assert (report.manifests, report.blobs) == (1, 2)  # a's manifest; its config and only_a
    assert report.bytes == before - pusher.bytes_on_disk() > 3000
    assert not pusher.stored(a.blobs[0]) and not pusher.stored(a.blobs[2])
    assert all(pusher.stored(d) for d in b.blobs)
    assert (await registry.manifest(REPO, "b", None)).digest == b.digest
    with pytest.raises(RegistryError):
        await registry.manifest(REPO, a.digest, None)
    again = await collector.collect(0)
    assert (again.manifests, again.blobs, again.bytes) == (0, 0, 0)


async def test_the_grace_period_spares_recent_pushes(
    registry: Registry, collector: Collector, pusher: Pusher
) -> None:
    a = await pusher.image(REPO, "a", [layer()])
    await registry.delete_manifest(REPO, "a")
    report = await collector.collect(3600)
    assert (report.manifests, report.blobs) == (0, 0)
    assert all(pusher.stored(d) for d in a.blobs)


async def test_a_dry_run_reports_what_a_run_then_frees(
    registry: Registry, collector: Collector, pusher: Pusher
) -> None:
    a = await pusher.image(REPO, "a", [layer(), layer()])
    await pusher.image(REPO, "b", [layer()])
    await registry.delete_manifest(REPO, "a")
    preview = await collector.collect(0, dry_run=True)
    assert all(pusher.stored(d) for d in a.blobs)
    report = await collector.collect(0)
    assert (preview.manifests, preview.blobs, preview.bytes) == (report.manifests, report.blobs, report.bytes)
    assert report.blobs == 3


async def test_an_index_keeps_its_children_and_referrers_follow_their_subject(
    registry: Registry, collector: Collector, pusher: Pusher
) -> None:
    amd, arm = await pusher.image(REPO, None, [layer()]), await pusher.image(REPO, None, [layer()])
    index = await pusher.index(REPO, "multi", [amd.digest, arm.digest])
    signature = await pusher.image(REPO, None, [layer(100)], subject=amd.digest)
    assert (await collector.collect(0)).manifests == 0
    await registry.delete_manifest(REPO, "multi")
    report = await collector.collect(0)
    assert report.manifests == 4  # the index, both children, the referrer of a child
    for digest in (index, amd.digest, arm.digest, signature.digest):
        with pytest.raises(RegistryError):
            await registry.manifest(REPO, digest, None)
    assert not any(pusher.stored(d) for d in (*amd.blobs, *arm.blobs, *signature.blobs))


async def test_a_manifest_put_after_its_blob_was_collected_fails_cleanly(
    registry: Registry, collector: Collector, pusher: Pusher
) -> None:
    """The HEAD-then-PUT race: the client saw the layer, the collector took it, the PUT must fail."""
    old = await pusher.image(REPO, "old", [layer()])
    await registry.delete_manifest(REPO, "old")
    await registry.blob(REPO, _digest(old.blobs[1]))  # the client's HEAD: "already exists"
    await collector.collect(0)
    content = pusher.manifest(old.blobs[0], 0, [(old.blobs[1], 2048)])
    with pytest.raises(RegistryError) as caught:
        await registry.put_manifest(REPO, "new", content, None, [])
    assert caught.value.code in (ErrorCode.MANIFEST_BLOB_UNKNOWN, ErrorCode.MANIFEST_INVALID)


async def test_the_in_transaction_check_catches_a_collection_just_before_the_transaction(
    registry: Registry, collector: Collector, pusher: Pusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector runs after the service's checks (quota, disk room), right before the
    manifest's transaction: the check inside it sees the link gone, nothing is stored."""
    old = await pusher.image(REPO, "old", [layer()])
    await registry.delete_manifest(REPO, "old")
    config = await registry.store.linked_blob_sizes(REPO, [old.blobs[0]])
    real_put = registry.store.put_manifest

    async def collect_then_put(push: ManifestPut) -> ManifestPushed:
        await collector.collect(0)
        return await real_put(push)

    monkeypatch.setattr(registry.store, "put_manifest", collect_then_put)
    content = pusher.manifest(old.blobs[0], config[old.blobs[0]], [(old.blobs[1], 2048)])
    with pytest.raises(RegistryError) as caught:
        await registry.put_manifest(REPO, "new", content, None, [])
    assert caught.value.code == ErrorCode.MANIFEST_BLOB_UNKNOWN
    assert (await registry.store.tags(REPO, None, None)).items == []  # type: ignore[union-attr]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one writer at a time
async def test_on_postgresql_a_collector_waits_for_a_manifest_put_that_checked_its_blobs(
    registry: Registry, collector: Collector, pusher: Pusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL lets the collector's mark run beside a PUT's transaction. The PUT's reference
    check share-locks the blob rows it found, so a collector that planned them as garbage (the
    PUT had not committed) waits for the commit and then sees the new reference. Without the lock
    it deletes links and files while the PUT is open, and the PUT commits a manifest whose layers
    are gone (a push the client saw succeed that does not pull)."""
    old = await pusher.image(REPO, "old", [layer()])
    await registry.delete_manifest(REPO, "old")
    sizes = await registry.store.linked_blob_sizes(REPO, old.blobs)
    collected = threading.Event()
    runs: list[threading.Thread] = []

    def collect() -> None:
        asyncio.run(collector.collect(0))
        collected.set()

    def checked_then_collect(
        conn: Connection, hot: Statements, repo_id: int, tags: Sequence[str], manifest_id: int
    ) -> None:
        runs.append(threading.Thread(target=collect))
        runs[0].start()
        collected.wait(2.0)  # long enough to delete everything, unless it waits for our locks
        refuse_moves(conn, hot, repo_id, tags, manifest_id)

    monkeypatch.setattr(store_module, "refuse_moves", checked_then_collect)
    body = json.loads(
        pusher.manifest(old.blobs[0], sizes[old.blobs[0]], [(old.blobs[1], sizes[old.blobs[1]])])
    )
    body["annotations"] = {"new": "yes"}  # not the old manifest itself (the collector deletes that one)
    await registry.put_manifest(REPO, "new", json.dumps(body).encode(), None, [])
    await anyio.to_thread.run_sync(runs[0].join, 30.0)
    assert collected.is_set()
    assert all(pusher.stored(d) for d in old.blobs)
    assert await registry.store.linked_blob_sizes(REPO, old.blobs) == sizes


async def test_an_upload_whose_blob_is_marked_after_its_claim_fails_and_leaves_nothing_linked(
    registry: Registry, collector: Collector, pusher: Pusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage: StorageDriver = registry.storage
    real_move = storage.move
    data = layer()

    async def move_then_collect(source: str, dest: str) -> None:
        await real_move(source, dest)
        await collector.collect(0)  # the claim's touch is older than this run's start

    monkeypatch.setattr(storage, "move", move_then_collect)
    with pytest.raises(BlobSwept):
        await pusher.blob(REPO, data)
    assert await registry.store.linked_blob_sizes(REPO, [str(_digest_of(data))]) == {}


async def test_an_upload_waits_for_a_collector_deleting_the_same_digest(
    registry: Registry, collector: Collector, pusher: Pusher
) -> None:
    data = layer()
    pushed = await pusher.image(REPO, "a", [data])
    digest = pushed.blobs[1]
    with registry.store.db.write.begin() as conn:  # a collector is mid-way through deleting it
        conn.execute(update(blobs).where(blobs.c.digest == digest).values(sweep_id="other-run"))
        conn.execute(links.delete().where(links.c.digest == digest))
    done = anyio.Event()

    async def upload() -> None:
        await pusher.blob("alice/other", data)
        done.set()

    async with anyio.create_task_group() as group:
        group.start_soon(upload)
        await anyio.sleep(0.3)
        assert not done.is_set()  # waiting for the collector, its bytes not yet moved
        with registry.store.db.write.begin() as conn:  # the collector deletes the file, then the row
            conn.execute(blobs.delete().where(blobs.c.digest == digest))
    assert pusher.stored(digest)
    assert await registry.store.linked_blob_sizes("alice/other", [digest]) == {digest: len(data)}


async def test_a_run_finishes_the_deletions_of_a_run_that_died(
    registry: Registry, collector: Collector, pusher: Pusher
) -> None:
    pushed = await pusher.image(REPO, "a", [layer()])
    digest = pushed.blobs[1]
    with registry.store.db.write.begin() as conn:
        conn.execute(update(blobs).where(blobs.c.digest == digest).values(sweep_id="crashed-run"))
        conn.execute(links.delete().where(links.c.digest == digest))
    report = await collector.collect(3600)
    assert report.blobs == 1 and not pusher.stored(digest)
    with registry.store.db.read.connect() as conn:
        assert conn.execute(select(blobs.c.digest).where(blobs.c.digest == digest)).first() is None


async def test_a_deleted_repository_frees_its_blobs_and_its_name_can_be_pushed_again(
    registry: Registry, collector: Collector, pusher: Pusher, tmp_path: Path
) -> None:
    database = registry.store.db
    accounts = AccountService(database, Passwords(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)))
    hub = HubService(
        database,
        accounts,
        registry,
        base_url="https://hub.example.com",
        secrets=SecretBox.from_data_dir(tmp_path),
    )
    shared = layer()
    kept = await pusher.image("alice/kept", "v1", [shared])
    gone = await pusher.image(REPO, "v1", [shared, layer(), layer()])
    await hub.delete_repository(OPERATOR, REPO)
    report = await collector.collect(0)
    assert report.blobs == 3  # gone's config and its two own layers; the shared one stays
    assert not any(pusher.stored(d) for d in (gone.blobs[0], *gone.blobs[2:]))
    assert all(pusher.stored(d) for d in kept.blobs)
    again = await pusher.image(REPO, "v1", [layer()])
    assert (await registry.manifest(REPO, "v1", None)).digest == again.digest


def _digest(value: str):  # type: ignore[no-untyped-def]
    from dockyard.digests import Digest

    return Digest.parse(value)


def _digest_of(data: bytes):  # type: ignore[no-untyped-def]
    from dockyard.digests import Digest

    return Digest.of(data)
