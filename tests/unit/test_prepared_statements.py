"""registry/prepared.py: a statement run on SQLite's cursor stores exactly what ``Connection.execute``
stores (timestamps, JSON, NULLs), reads back what it reads, and refuses a parameter left out."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from dockyard.db.engine import Database
from dockyard.events import outbox
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.manifests import parse_manifest
from dockyard.registry.prepared import Statements
from dockyard.registry.records import ManifestPut
from dockyard.registry.store import (
    HOT_REFERENCES,
    REPOSITORY_ID,
    TOUCH_REPOSITORY,
    MetadataStore,
    repositories,
)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

AT = datetime(2026, 11, 28, 23, 59, 58, 123456, tzinfo=UTC)


def _event_rows(database: Database) -> list[tuple[object, ...]]:
    with database.read.connect() as conn:
        query = select(
            outbox.events.c.kind, outbox.events.c.payload, outbox.events.c.actor, outbox.events.c.created_at
        )
        return [tuple(row) for row in conn.execute(query.order_by(outbox.events.c.id))]


def test_outbox_row_is_stored_as_sqlalchemy_stores_it(database: Database) -> None:
    event = outbox.Event("manifest.pushed", {"tags": ["a", "b"], "n": 1, "none": None}, "alice", AT)
    row = outbox.row(event)
    with database.write.begin() as conn:
        Statements("sqlite").execute(conn, outbox.INSERT, row, column_keys=list(row))
        outbox.add(conn, event)
    fast, slow = _event_rows(database)
    assert fast == slow
    assert fast[1] == {"tags": ["a", "b"], "n": 1, "none": None}


def test_scalar_and_update_match_connection_execute(database: Database) -> None:
    with database.write.begin() as conn:
        conn.execute(repositories.insert().values(name="alice/app", created_at=AT, is_private=False))
    hot = Statements("sqlite")
    with database.write.begin() as conn:
        repo_id = hot.scalar(conn, REPOSITORY_ID, {"name": "alice/app"})
        assert repo_id == conn.execute(REPOSITORY_ID, {"name": "alice/app"}).scalar_one()
        assert hot.scalar(conn, REPOSITORY_ID, {"name": "nobody/none"}) is None
        hot.execute(conn, TOUCH_REPOSITORY, {"repo_id": repo_id, "now": AT})
    with database.read.connect() as conn:
        pushed = conn.execute(
            select(repositories.c.pushed_at).where(repositories.c.id == repo_id)
        ).scalar_one()
    assert pushed.replace(tzinfo=UTC) == AT


def test_a_missing_parameter_is_an_error_not_a_null(database: Database) -> None:
    with database.write.begin() as conn, pytest.raises(KeyError):
        Statements("sqlite").execute(conn, TOUCH_REPOSITORY, {"repo_id": 1})


def test_other_databases_go_through_connection_execute(database: Database) -> None:
    event = outbox.Event("manifest.pushed", {"x": 1}, None, AT)
    with database.write.begin() as conn:
        Statements("postgresql").execute(conn, outbox.INSERT, outbox.row(event))
    assert _event_rows(database) == [("manifest.pushed", {"x": 1}, None, _event_rows(database)[0][3])]


@pytest.mark.parametrize("count", [1, 3, HOT_REFERENCES, HOT_REFERENCES + 1])
def test_missing_blobs_are_named_whatever_their_count(database: Database, count: int) -> None:
    """Up to HOT_REFERENCES blobs a manifest's check runs a statement compiled for its count; above
    it the expanding one: both name every blob the repository lacks, and refuse a wrong size."""
    store = MetadataStore(database)
    linked = "sha256:" + "0" * 64
    store.link_blob.__wrapped__(store, "alice/app", linked, 10)  # type: ignore[attr-defined]
    digests = [linked, *(f"sha256:{i:064x}" for i in range(1, count))]
    layers = [{"mediaType": OCI_LAYER, "digest": d, "size": 10} for d in digests[1:]]
    config = {"mediaType": OCI_CONFIG, "digest": linked, "size": 10}
    content = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers})
    parsed = parse_manifest(content.encode(), OCI_MANIFEST)
    put = ManifestPut("alice/app", "sha256:" + "f" * 64, content.encode(), parsed, ("v1",), None, None)
    if count == 1:
        store._put_manifest_alone(put)
        wrong = json.dumps({**json.loads(content), "config": {**config, "size": 11}}).encode()
        bad = ManifestPut(
            "alice/app", "sha256:" + "e" * 64, wrong, parse_manifest(wrong, OCI_MANIFEST), (), None, None
        )
        with pytest.raises(RegistryError) as refused:
            store._put_manifest_alone(bad)
        assert refused.value.code == ErrorCode.MANIFEST_INVALID
        return
    with pytest.raises(RegistryError) as missing:
        store._put_manifest_alone(put)
    assert missing.value.code == ErrorCode.MANIFEST_BLOB_UNKNOWN
    assert missing.value.detail == {"digests": sorted(digests[1:])}
