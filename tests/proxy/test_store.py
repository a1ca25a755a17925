"""The proxy's writes on both metadata databases (SQLite and PostgreSQL): a cache fill stores a
manifest whose blobs are not there yet and writes no outbox event (a fill is not a push: no push
webhook, no build trigger); the proxy's own rows (tag checks, counters) upsert on both."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from dockyard.accounts.reservations import NamespaceReservations
from dockyard.db.engine import Database, make_database
from dockyard.events.models import OutboxEvent
from dockyard.proxy.store import ProxyStore
from dockyard.registry.errors import RegistryError
from dockyard.registry.manifests import parse_manifest
from dockyard.registry.quotas import Quotas
from dockyard.registry.records import ManifestPut
from dockyard.registry.store import MetadataStore
from dockyard.secretbox import SecretBox
from tests.postgres.fixtures import database_url, postgres_template, postgres_url  # noqa: F401

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:  # noqa: F811 (the fixture above)
    database = make_database(database_url)
    yield database
    database.dispose()


def _manifest() -> tuple[str, bytes]:
    layer = "sha256:" + hashlib.sha256(os.urandom(16)).hexdigest()
    content = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2, "digest": layer},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": 9, "digest": layer}],
        }
    ).encode()
    return "sha256:" + hashlib.sha256(content).hexdigest(), content


def _events(db: Database) -> int:
    with db.read.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(OutboxEvent.__table__)).scalar_one())


async def test_a_cache_fill_needs_no_blobs_and_writes_no_event(db: Database) -> None:
    store = MetadataStore(db)
    digest, content = _manifest()
    parsed = parse_manifest(content, OCI_MANIFEST)
    # A push of the same manifest is refused (its blobs are missing) and writes nothing...
    with pytest.raises(RegistryError):
        await store.put_manifest(ManifestPut("hub/app", digest, content, parsed, ("v1",), None, None))
    # ...while a fill stores it under its tag, with no manifest.pushed in the outbox.
    await store.cache_manifest("hub/app", digest, content, parsed, ["v1"])
    await store.cache_manifest("hub/app", digest, content, parsed, ["v1", "latest"])  # again: no duplicate
    found = await store.manifest_by_tag("hub/app", "latest")
    assert found is not None and found.digest == digest and found.content == content
    assert _events(db) == 0


async def test_tag_checks_and_counters_upsert(db: Database) -> None:
    rows = ProxyStore(db, SecretBox(Fernet.generate_key()), NamespaceReservations())
    await rows.add("hub", "https://registry.example", None, 60, False)
    await rows.record_check("hub", "hub/app", "v1", "sha256:" + "a" * 64)
    await rows.record_check("hub", "hub/app", "v1", "sha256:" + "b" * 64)
    checked = await rows.tag_checked("hub/app", "v1")
    assert checked is not None and checked[0] == "sha256:" + "b" * 64
    await rows.count("hub", hit=True)
    await rows.count("hub", hit=False)
    await rows.count("hub", hit=False)
    config = await rows.get("hub")
    assert config is not None and (config.hits, config.misses) == (1, 2)
    assert config.last_checked_at is not None


async def test_eviction_unlinks_what_no_manifest_left_uses(db: Database) -> None:
    """The registry store's eviction and usage, and the proxy's least-recent order, on both."""
    store = MetadataStore(db)
    rows = ProxyStore(db, SecretBox(Fernet.generate_key()), NamespaceReservations())
    await rows.add("hub", "https://registry.example", None, 60, False, size_limit=1)
    kept, evicted = _manifest(), _manifest()
    for (digest, content), size in ((kept, 100), (evicted, 50)):
        parsed = parse_manifest(content, OCI_MANIFEST)
        await store.cache_manifest("hub/app", digest, content, parsed, ["v1"] if digest == kept[0] else [])
        await store.link_blob("hub/app", parsed.blobs[0].digest, size)
    early = datetime.now(UTC) - timedelta(hours=2)
    await rows.served("hub", "hub/app", evicted[0], hit=False, at=early)
    await rows.served("hub", "hub/app", kept[0], hit=True, at=early + timedelta(hours=1))
    assert (await Quotas(store).get("hub")).used == 150 and (await Quotas(store).get("hu")).used == 0
    assert await rows.least_recent("hub", datetime.now(UTC), 10) == [
        ("hub/app", evicted[0]),
        ("hub/app", kept[0]),
    ]
    assert await store.evict_cached("hub/app", evicted[0])
    assert not await store.evict_cached("hub/app", evicted[0])
    assert await store.manifest_by_digest("hub/app", evicted[0]) is None
    assert await store.manifest_by_tag("hub/app", "v1") is not None
    assert (await Quotas(store).get("hub")).used == 100
    assert _events(db) == 0
