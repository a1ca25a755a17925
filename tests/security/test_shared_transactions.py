"""Group commit (dockyard/db/groupcommit.py) puts the manifest PUTs of different accounts that arrive
together into one SQLite transaction. Defends against one account's push reaching into another's:
a push that is refused (here: it names a blob its repository lacks) undoes only its own writes and
gets its own error, while the other accounts' pushes in the same transaction are stored whole,
with their tags and their outbox events."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select

from dockyard.db.engine import Database
from dockyard.events import outbox
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.manifests import parse_manifest
from dockyard.registry.records import ManifestPut
from dockyard.registry.store import MetadataStore

pytestmark = pytest.mark.anyio

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
LINKED = "sha256:" + "0" * 64
MISSING = "sha256:" + "9" * 64


def put(repository: str, n: int, layer: str) -> ManifestPut:
    config = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": LINKED, "size": 10}
    layers = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": 10}]
    content = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers, "n": n}
    ).encode()
    parsed = parse_manifest(content, OCI_MANIFEST)
    return ManifestPut(repository, f"sha256:{n:064x}", content, parsed, (f"t{n}",), None, None)


async def test_a_refused_push_in_a_shared_transaction_undoes_only_its_own_writes(database: Database) -> None:
    store = MetadataStore(database)
    for repository in ("alice/app", "mallory/app"):
        store.link_blob.__wrapped__(store, repository, LINKED, 10)  # type: ignore[attr-defined]
    puts = [put("alice/app", n, LINKED) for n in (1, 2)]
    puts.append(put("mallory/app", 3, MISSING))  # queued with alice's: the same transaction
    puts += [put("alice/app", n, LINKED) for n in (4, 5, 6)]
    results = await asyncio.gather(*(store.put_manifest(p) for p in puts), return_exceptions=True)

    refused = results[2]
    assert isinstance(refused, RegistryError) and refused.code == ErrorCode.MANIFEST_BLOB_UNKNOWN
    assert [r.tags for r in results if not isinstance(r, BaseException)] == [
        (f"t{n}",) for n in (1, 2, 4, 5, 6)
    ]
    alice = await store.tags("alice/app", None, None)
    assert alice is not None and alice.items == ["t1", "t2", "t4", "t5", "t6"]
    mallory = await store.tags("mallory/app", None, None)
    assert mallory is not None and mallory.items == []
    with database.read.connect() as conn:
        events = conn.execute(select(func.count()).select_from(outbox.events)).scalar_one()
    assert events == 5  # one manifest.pushed per stored push, none for the refused one
