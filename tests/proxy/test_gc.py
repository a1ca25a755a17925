"""The garbage collector and proxy namespaces (issue 13 item 4): a manifest cached by digest only
(no tag) stays, with its blobs, through a collection, so a pull by digest keeps working without
the upstream; the size limit's eviction is what removes cached content. The same untagged
manifest outside a proxy namespace is collected (the test can fail)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from dockyard.config import Settings
from dockyard.migrations import upgrade
from dockyard.registry.manifests import parse_manifest
from dockyard.services import Services, build_services
from tests.proxy.test_store import OCI_MANIFEST
from tests.proxy.test_store import _manifest as random_manifest

pytestmark = pytest.mark.integration


async def _cache_untagged(services: Services, repository: str) -> tuple[str, str]:
    store = services.registry.store
    digest, content = random_manifest()
    parsed = parse_manifest(content, OCI_MANIFEST)
    layer = str(parsed.blobs[0].digest)
    await store.cache_manifest(repository, digest, content, parsed, [])
    await store.link_blob(repository, layer, 9)
    return digest, layer


async def _scenario(services: Services) -> None:
    await services.proxy.add("hub", "https://registry.example")
    cached, cached_layer = await _cache_untagged(services, "hub/app")
    plain, plain_layer = await _cache_untagged(services, "alice/app")
    report = await services.collector.collect(0)
    store = services.registry.store
    assert await store.manifest_by_digest("hub/app", cached) is not None
    assert await store.linked_blob_size("hub/app", cached_layer) == 9
    assert await store.manifest_by_digest("alice/app", plain) is None
    assert await store.linked_blob_size("alice/app", plain_layer) is None
    assert report.manifests == 1


def test_gc_spares_a_proxy_namespaces_untagged_manifests(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    upgrade(settings.resolved_database_url)
    services = build_services(settings)
    try:
        anyio.run(_scenario, services)
    finally:
        services.close()
