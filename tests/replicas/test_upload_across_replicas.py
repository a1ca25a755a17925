"""A chunked upload whose requests land on different replicas (two UploadServices on one storage
and one database, as two `dockyard serve` processes are) completes, and hashes each byte a bounded
number of times: at most twice (as it arrives, and in one catch-up read on completion), not once
per chunk as a re-hash from the start on every replica switch would."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dockyard.db.engine import Database
from dockyard.digests import Digest
from dockyard.registry import uploads as uploads_module
from dockyard.registry.store import MetadataStore
from dockyard.registry.uploads import UploadService
from dockyard.storage import create_driver
from tests.postgres.fixtures import database_url, postgres_template, postgres_url  # noqa: F401

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

CHUNK = 64 * 1024
CHUNKS = 12


async def body(chunk: bytes) -> AsyncIterator[bytes]:
    yield chunk


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every byte any replica hashes, counted (both the streaming hash and the catch-up read)."""
    counted: list[int] = []
    real_update = uploads_module._update

    def update(hasher: hashlib._Hash, batch: list[bytes]) -> None:
        counted.append(sum(map(len, batch)))
        real_update(hasher, batch)

    class Counting:
        def __init__(self, inner: hashlib._Hash) -> None:
            self.inner = inner

        def update(self, data: bytes) -> None:
            counted.append(len(data))
            self.inner.update(data)

        def hexdigest(self) -> str:
            return self.inner.hexdigest()

    real_new = hashlib.new
    monkeypatch.setattr(uploads_module, "_update", update)
    monkeypatch.setattr(uploads_module.hashlib, "new", lambda name: Counting(real_new(name)))
    return counted


async def test_chunks_alternating_between_replicas_complete_hashing_each_byte_at_most_twice(
    tmp_path: Path, database: Database, hashed: list[int]
) -> None:
    store = MetadataStore(database)
    replicas = [UploadService(create_driver("filesystem", root=tmp_path / "storage"), store) for _ in "ab"]
    chunks = [bytes([i]) * CHUNK for i in range(CHUNKS)]
    digest = Digest.parse("sha256:" + hashlib.sha256(b"".join(chunks)).hexdigest())

    status = await replicas[0].start("library/alternating")
    for index, chunk in enumerate(chunks[:-1]):
        status = await replicas[index % 2].append("library/alternating", status.id, body(chunk))
    assert status.offset == CHUNK * (CHUNKS - 1)
    size = await replicas[1].complete("library/alternating", status.id, digest, body(chunks[-1]))

    assert size == CHUNK * CHUNKS
    assert sum(hashed) <= 2 * size  # a re-hash per switch would be ~CHUNKS/2 times the size
