"""Fixtures for the hub: a migrated SQLite database, the accounts, a registry on a temp folder,
and the HubService over them, plus helpers that push images through the registry service."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from dockyard.accounts.credentials import Passwords
from dockyard.accounts.records import Principal
from dockyard.accounts.service import AccountService
from dockyard.db.engine import Database
from dockyard.digests import Digest
from dockyard.events import Dispatcher
from dockyard.hub.activity import ActivityHandlers, ActivityStore
from dockyard.hub.build_events import BuildWebhooks
from dockyard.hub.service import HubService
from dockyard.hub.stats import ActivityRecorder
from dockyard.registry.manifests import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from dockyard.registry.service import Registry
from dockyard.registry.store import MetadataStore
from dockyard.secretbox import SecretBox
from dockyard.services import register_handlers
from dockyard.storage import create_driver, paths
from tests.postgres.fixtures import database_url, postgres_template, postgres_url  # noqa: F401

PASSWORD = "correct horse battery"
BASE_URL = "https://hub.example.com"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


@pytest.fixture
def accounts(database: Database) -> AccountService:
    return AccountService(database, Passwords(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)))


@pytest.fixture
def dispatcher(database: Database) -> Dispatcher:
    """The outbox's, with the handlers the composition root registers."""
    dispatcher = Dispatcher(database)
    register_handlers(dispatcher, ActivityHandlers(database, BASE_URL), BuildWebhooks(BASE_URL))
    return dispatcher


@pytest.fixture
def registry(database: Database, tmp_path: Path, dispatcher: Dispatcher) -> Registry:
    storage = create_driver("filesystem", root=tmp_path / "storage")
    return Registry(storage, MetadataStore(database), 4 << 20, dispatcher=dispatcher)


@pytest.fixture
def hub(database: Database, accounts: AccountService, registry: Registry, tmp_path: Path) -> HubService:
    return HubService(
        database, accounts, registry, base_url=BASE_URL, secrets=SecretBox.from_data_dir(tmp_path)
    )


class Recorder(ActivityRecorder):
    """The pull recorder whose flush also handles the outbox's events (pushes), as the web
    process's flush and the ``events`` worker do between them."""

    def __init__(self, store: ActivityStore, dispatcher: Dispatcher) -> None:
        super().__init__(store)
        self.dispatcher = dispatcher

    async def flush(self) -> None:
        await self.dispatcher.drain()
        await super().flush()


@pytest.fixture
def recorder(database: Database, registry: Registry, dispatcher: Dispatcher) -> ActivityRecorder:
    recorder = Recorder(ActivityStore(database), dispatcher)
    registry.pulls.subscribe(recorder)
    return recorder


@dataclass(frozen=True)
class Image:
    digest: str
    size: int  # config + layers


class Hub:
    """Users and images, made through the real services."""

    def __init__(self, accounts: AccountService, registry: Registry) -> None:
        self.accounts = accounts
        self.registry = registry

    async def user(self, name: str, *, admin: bool = False) -> Principal:
        await self.accounts.create_user(name, f"{name}@example.com", PASSWORD, admin=admin)
        principal = await self.accounts.authenticate(name, PASSWORD)
        assert principal is not None
        return principal

    async def blob(self, repository: str, data: bytes) -> tuple[str, int]:
        digest = Digest.of(data)
        await self.registry.storage.put_content(paths.blob_data(digest), data)
        await self.registry.store.link_blob(repository, str(digest), len(data))
        return str(digest), len(data)

    async def image(
        self,
        repository: str,
        tag: str | None,
        *,
        os: str = "linux",
        architecture: str = "amd64",
        variant: str | None = None,
        layers: Sequence[bytes] = (b"layer one",),
        actor: str | None = "alice",
        oci: bool = False,
    ) -> Image:
        platform = {"os": os, "architecture": architecture, **({"variant": variant} if variant else {})}
        config = json.dumps({**platform, "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        config_digest, config_size = await self.blob(repository, config)
        layer_descriptors = []
        for layer in layers:
            digest, size = await self.blob(repository, layer)
            layer_descriptors.append({"mediaType": LAYER, "digest": digest, "size": size})
        media_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
        manifest = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
                "digest": config_digest,
                "size": config_size,
            },
            "layers": layer_descriptors,
        }
        content = json.dumps(manifest).encode()
        reference = tag or str(Digest.of(content))
        result = await self.registry.put_manifest(repository, reference, content, media_type, [], actor)
        return Image(result.digest, config_size + sum(d["size"] for d in layer_descriptors))

    async def index(
        self,
        repository: str,
        tag: str,
        platforms: Sequence[tuple[str, str, str | None]],
        *,
        attestation: bool = False,
    ) -> tuple[str, list[Image]]:
        images = []
        descriptors = []
        for os, arch, variant in platforms:
            image = await self.image(
                repository,
                None,
                os=os,
                architecture=arch,
                variant=variant,
                layers=[f"{os}/{arch}".encode()],
                oci=True,
            )
            images.append(image)
            platform = {"os": os, "architecture": arch, **({"variant": variant} if variant else {})}
            descriptors.append(
                {"mediaType": OCI_MANIFEST, "digest": image.digest, "size": 1, "platform": platform}
            )
        if attestation:
            extra = await self.image(
                repository, None, os="unknown", architecture="unknown", layers=[b"att"], oci=True
            )
            descriptors.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": extra.digest,
                    "size": 1,
                    "platform": {"os": "unknown", "architecture": "unknown"},
                }
            )
        content = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}).encode()
        result = await self.registry.put_manifest(repository, tag, content, OCI_INDEX, [], "alice")
        return result.digest, images


@pytest.fixture
async def world(accounts: AccountService, registry: Registry) -> AsyncIterator[Hub]:
    yield Hub(accounts, registry)
