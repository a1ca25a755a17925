"""Issue 13, items 5 and 6: a proxy namespace's usage, its size limit with least-recently-pulled
eviction (a blob over the limit: tests/security/test_proxy_namespaces.py), spools of killed
processes swept by the janitor, and pulls through a proxy (the instance mirror's included) in
the pull statistics.
Dockyard runs in this process; the upstream is a small registry on loopback."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockyard.services import Services
from tests.proxy.inprocess import dockyard
from tests.proxy.upstreams import CountingRegistry

pytestmark = pytest.mark.anyio
OPEN = {"auth": "none", "proxy_allow_private": True}
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
KIB = 1024


@pytest.fixture
def upstream() -> Iterator[CountingRegistry]:
    registry = CountingRegistry([os.urandom(40 * KIB), os.urandom(40 * KIB), os.urandom(100 * KIB)])
    yield registry
    registry.close()


def _on_disk(services: Services, digest: str) -> bool:
    """Whether the blob's file is in the filesystem store (not only its rows)."""
    hex_ = digest.split(":", 1)[1]
    return (services.settings.storage_root / "blobs" / "sha256" / hex_[:2] / hex_ / "data").is_file()


def _publish(upstream: CountingRegistry, tag: str, blob: str) -> str:
    """``tag`` upstream: a manifest whose config and one layer are ``blob``; its digest."""
    size = len(upstream.blobs[blob])
    content = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": size, "digest": blob},
            "layers": [],
        }
    ).encode()
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    upstream.manifests[tag] = upstream.manifests[digest] = (OCI_MANIFEST, content, digest)
    return digest


async def test_over_its_limit_a_namespace_evicts_the_least_recently_pulled(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    one, two, _ = upstream.digests
    _publish(upstream, "one", one)
    _publish(upstream, "two", two)
    async with dockyard(tmp_path, **OPEN) as (client, services):
        cache = services.proxy.cache
        await services.proxy.add("up", upstream.url, size_limit=60 * KIB)
        start = datetime.now(UTC)
        for hours, tag, blob in ((0, "one", one), (1, "two", two)):
            cache.now = lambda hours=hours: start + timedelta(hours=hours)
            assert (await client.get(f"/v2/up/app/manifests/{tag}")).status_code == 200
            assert (await client.get(f"/v2/up/app/blobs/{blob}")).status_code == 200
        # 80 KiB linked after the second blob: "one" (pulled an hour before) went, "two" stays.
        store = services.registry.store
        assert await store.manifest_by_tag("up/app", "one") is None
        assert await store.linked_blob_size("up/app", one) is None
        assert await store.manifest_by_tag("up/app", "two") is not None
        assert await store.linked_blob_size("up/app", two) == 40 * KIB
        assert await cache.space.usage("up") == 40 * KIB
        # The evicted bytes leave the disk at the collector's next run; the kept ones stay.
        assert _on_disk(services, one) and _on_disk(services, two)
        report = await services.collector.collect(0)
        assert report.bytes == 40 * KIB
        assert not _on_disk(services, one) and _on_disk(services, two)
        # Evicted is not lost: the next pull fetches it again.
        assert (await client.get("/v2/up/app/manifests/one")).status_code == 200
        assert (await client.get(f"/v2/up/app/blobs/{one}")).status_code == 200
        assert _on_disk(services, one)


async def test_a_lower_limit_evicts_at_once_and_usage_shows_in_the_api_and_page(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    one, two, _ = upstream.digests
    _publish(upstream, "one", one)
    _publish(upstream, "two", two)
    async with dockyard(tmp_path, **OPEN) as (client, services):
        await services.proxy.add("up", upstream.url)
        for tag, blob in (("one", one), ("two", two)):
            await client.get(f"/v2/up/app/manifests/{tag}")
            await client.get(f"/v2/up/app/blobs/{blob}")
        listed = {c.namespace: c for c in await services.proxy.list(usage=True)}
        assert listed["up"].usage_bytes == 80 * KIB and listed["up"].size_limit_bytes is None
        services.proxy.cache.now = lambda: datetime.now(UTC) + timedelta(hours=1)  # both out of grace
        config = await services.proxy.set_limit("up", 50 * KIB)
        assert config.size_limit_bytes == 50 * KIB
        assert await services.proxy.cache.space.usage("up") == 40 * KIB


async def test_the_janitor_sweeps_spools_a_killed_process_left(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    async with dockyard(tmp_path, **OPEN) as (_, services):
        spools = services.proxy.cache.flights.spool_dir
        spools.mkdir(parents=True, exist_ok=True)
        dead, live = spools / "abc-dead", spools / "abc-live"
        dead.write_bytes(b"partial")
        live.write_bytes(b"downloading")
        hour_ago = time.time() - 3700
        os.utime(dead, (hour_ago, hour_ago))
        assert "proxy-janitor" in [t.name for t in services.background({"janitor"})]
        await services.proxy.cache.janitor()
        assert not dead.exists() and live.exists()


async def test_pulls_through_a_proxy_and_the_mirror_count_in_the_pull_statistics(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    _publish(upstream, "v1", upstream.digests[0])
    async with dockyard(tmp_path, **OPEN) as (client, services):
        await services.proxy.add("proxied", upstream.url)
        await services.proxy.add("mirror", upstream.url, mirror=True)
        for name in ("proxied/app", "proxied/app", "library/app"):
            assert (await client.get(f"/v2/{name}/manifests/v1")).status_code == 200
        await services.activity.flush()
        proxied = await services.hub.repository(None, "proxied/app")
        mirrored = await services.hub.repository(None, "mirror/library/app")
        assert (proxied.summary.pull_count, mirrored.summary.pull_count) == (2, 1)
