"""Fixtures for operations: a migrated database (SQLite and PostgreSQL: ``database_url`` is
parametrised by tests/postgres/fixtures.py), a registry on a temp folder, the collector over them,
and pushes that go through the registry's real upload and manifest paths."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockyard.db.engine import Database
from dockyard.digests import Digest
from dockyard.registry.gc import Collector
from dockyard.registry.manifests import OCI_INDEX, OCI_MANIFEST
from dockyard.registry.service import Registry
from dockyard.registry.store import MetadataStore
from dockyard.storage import create_driver
from tests.api.conftest import hub, unique  # noqa: F401  (one API server with token auth, per session)
from tests.postgres.fixtures import database_url, postgres_template, postgres_url  # noqa: F401

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@pytest.fixture
def registry(database: Database, tmp_path: Path) -> Registry:
    return Registry(create_driver("filesystem", root=tmp_path / "storage"), MetadataStore(database), 4 << 20)


@pytest.fixture
def collector(registry: Registry) -> Collector:
    return Collector(registry.storage, registry.store, registry.uploads)


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


@dataclass(frozen=True)
class Pushed:
    digest: str
    blobs: tuple[str, ...]  # config first


class Pusher:
    """Images pushed through the registry service as a client would: upload, then the manifest."""

    def __init__(self, registry: Registry, storage_root: Path) -> None:
        self.registry = registry
        self.blob_root = storage_root / "blobs"

    async def blob(self, repository: str, data: bytes) -> str:
        digest = Digest.of(data)
        await self.registry.uploads.upload_whole(repository, digest, _body(data), len(data))
        return str(digest)

    def manifest(
        self, config: str, config_size: int, layers: Sequence[tuple[str, int]], subject: str = ""
    ) -> bytes:
        body: dict[str, object] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config, "size": config_size},
            "layers": [{"mediaType": LAYER, "digest": d, "size": s} for d, s in layers],
        }
        if subject:
            body["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1}
        return json.dumps(body).encode()

    async def image(
        self, repository: str, tag: str | None, layers: Sequence[bytes], *, subject: str = ""
    ) -> Pushed:
        config = json.dumps({"layers": [len(layer) for layer in layers], "tag": tag}).encode()
        config_digest = await self.blob(repository, config)
        digests = [await self.blob(repository, layer) for layer in layers]
        content = self.manifest(
            config_digest, len(config), list(zip(digests, map(len, layers), strict=True)), subject
        )
        reference = tag or str(Digest.of(content))
        result = await self.registry.put_manifest(repository, reference, content, OCI_MANIFEST, [])
        return Pushed(result.digest, (config_digest, *digests))

    async def index(self, repository: str, tag: str, children: Sequence[str]) -> str:
        entries = [
            {
                "mediaType": OCI_MANIFEST,
                "digest": d,
                "size": 1,
                "platform": {"os": "linux", "architecture": a},
            }
            for d, a in zip(children, ("amd64", "arm64", "s390x"), strict=False)
        ]
        content = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
        return (await self.registry.put_manifest(repository, tag, content, OCI_INDEX, [])).digest

    def stored(self, digest: str) -> bool:
        parsed = Digest.parse(digest)
        return (self.blob_root / parsed.algorithm / parsed.hex[:2] / parsed.hex / "data").is_file()

    def bytes_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.blob_root.rglob("data")) if self.blob_root.exists() else 0


@pytest.fixture
def pusher(registry: Registry, tmp_path: Path) -> Pusher:
    return Pusher(registry, tmp_path / "storage")
