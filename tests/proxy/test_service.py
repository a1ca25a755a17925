"""Changes to proxy namespaces made in this process apply to its very next pull: the cache keeps
a copy of the proxy table for CONFIG_SECONDS (other processes' changes arrive within that), and
ProxyService.add, remove and set_limit make it read the table again.
Dockyard runs in this process; the upstream is a small registry on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.proxy.inprocess import dockyard
from tests.proxy.test_space import _publish
from tests.proxy.upstreams import CountingRegistry

pytestmark = pytest.mark.anyio
OPEN = {"auth": "none", "proxy_allow_private": True}
KIB = 1024


@pytest.fixture
def upstream() -> Iterator[CountingRegistry]:
    registry = CountingRegistry([os.urandom(40 * KIB)])
    _publish(registry, "v1", registry.digests[0])
    yield registry
    registry.close()


async def test_a_pull_right_after_add_and_after_remove_sees_the_change(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    async with dockyard(tmp_path, **OPEN) as (client, services):
        assert (await client.get("/v2/up/app/manifests/v1")).status_code == 404  # the table, read
        await services.proxy.add("up", upstream.url)
        assert (await client.get("/v2/up/app/manifests/v1")).status_code == 200
        await services.proxy.remove("up")
        assert not await services.proxy.cache.proxies("up/app")
        await services.proxy.add("other", upstream.url, mirror=True)
        assert await services.proxy.cache.mirror_for("library/app") == "other/library/app"


async def test_a_lower_limit_applies_to_the_next_download(tmp_path: Path, upstream: CountingRegistry) -> None:
    async with dockyard(tmp_path, **OPEN) as (client, services):
        await services.proxy.add("up", upstream.url)
        assert (await client.get("/v2/up/app/manifests/v1")).status_code == 200
        await services.proxy.set_limit("up", 10 * KIB)
        refused = await client.get(f"/v2/up/app/blobs/{upstream.digests[0]}")
        assert refused.status_code == 403 and refused.json()["errors"][0]["code"] == "DENIED"
        assert await services.registry.store.linked_blob_size("up/app", upstream.digests[0]) is None
