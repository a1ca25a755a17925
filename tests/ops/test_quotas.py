"""Storage quotas per namespace: usage counts each blob once, a push that would cross the quota is
refused with nothing linked, and after deleting and collecting the same push succeeds."""

from __future__ import annotations

import os

import pytest

from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.gc import Collector
from dockyard.registry.quotas import human, parse_size
from dockyard.registry.service import Registry
from tests.api.helpers import Hub
from tests.ops.conftest import Pusher
from tests.ops.test_cli import Cli, cli, push  # noqa: F401  (cli: a fixture)


@pytest.mark.anyio
async def test_usage_counts_each_blob_once_per_namespace(registry: Registry, pusher: Pusher) -> None:
    shared = os.urandom(1000)
    a = await pusher.image("alice/one", "v1", [shared])
    await pusher.image("alice/two", "v1", [shared])
    await pusher.image("bobby/app", "v1", [shared])
    quotas = registry.uploads.quotas
    config_sizes = await registry.store.linked_blob_sizes("alice/one", [a.blobs[0]])
    alice = await quotas.get("alice")
    assert alice.limit is None
    assert alice.used == 1000 + config_sizes[a.blobs[0]]  # both repositories share layer and config
    assert (await quotas.get("bobby")).used == alice.used  # ... and bobby counts them for himself


@pytest.mark.anyio
async def test_a_push_over_the_quota_is_refused_and_fits_after_delete_and_gc(
    registry: Registry, pusher: Pusher, collector: Collector
) -> None:
    quotas = registry.uploads.quotas
    await pusher.image("alice/app", "old", [os.urandom(6000)])
    await quotas.set("alice", 10_000)
    big = os.urandom(6000)
    with pytest.raises(RegistryError) as refused:
        await pusher.image("alice/app", "new", [big])
    assert refused.value.code == ErrorCode.DENIED
    assert refused.value.message.startswith("quota exceeded: used 6.")
    assert refused.value.message.endswith("of 10.0 KB")
    used = (await quotas.get("alice")).used
    assert used < 10_000  # the refused layer is not linked: nothing counts half-stored
    await pusher.image("bobby/app", "v1", [big])  # other namespaces are not limited
    await registry.delete_manifest("alice/app", "old")
    await collector.collect(0)
    await pusher.image("alice/app", "new", [big])
    assert (await quotas.get("alice")).used > 6000


@pytest.mark.anyio
async def test_a_mount_counts_against_the_target_namespace(registry: Registry, pusher: Pusher) -> None:
    pushed = await pusher.image("bobby/app", "v1", [os.urandom(5000)])
    await registry.uploads.quotas.set("alice", 1000)
    layer = pushed.blobs[1]
    with pytest.raises(RegistryError, match="quota exceeded"):
        await registry.mount("alice/app", _digest(layer), ["bobby/app"])
    await registry.uploads.quotas.set("alice", None)
    assert await registry.mount("alice/app", _digest(layer), ["bobby/app"]) == 5000


def test_sizes_parse_and_print() -> None:
    assert parse_size("10GB") == 10**10 and parse_size("512MiB") == 512 * 2**20 and parse_size("1000") == 1000
    assert parse_size("1.5 kb") == 1500 and human(1500) == "1.5 KB" and human(12) == "12 B"
    with pytest.raises(ValueError, match="not a size"):
        parse_size("ten")


def test_the_cli_sets_shows_and_removes_a_quota(cli: Cli) -> None:  # noqa: F811
    from dockyard.config import Settings
    from dockyard.services import build_services

    services = build_services(Settings(data_dir=cli.data_dir))
    try:
        push(services, "alice/app", "v1", [os.urandom(2000)])
    finally:
        services.close()
    assert "alice: quota 10.0 GB (10000000000 bytes), used 2." in cli("quota", "set", "alice", "10GB")
    assert "alice: quota 10.0 GB" in cli("quota", "show", "alice")
    assert "not a size" in cli("quota", "set", "alice", "lots", code=1)
    assert "alice: no quota" in cli("quota", "unset", "alice")


@pytest.mark.e2e  # the `hub` fixture is a real server
def test_the_api_shows_usage_and_only_administrators_set_quotas(hub: Hub, unique: str) -> None:
    path = "/v2/namespaces/alice/quota"
    assert hub.api("carol").get(path).status_code == 404
    assert hub.api("alice").put(path, json={"limit_bytes": 10}).status_code == 403
    assert hub.api("siteadmin").put(path, json={"limit_bytes": -1}).status_code == 400
    hub.push_image("alice", f"alice/quota-{unique}", "v1")
    limit = hub.api("alice").get(path).json()["used_bytes"] + 10
    set_ = hub.api("siteadmin").put(path, json={"limit_bytes": limit})
    assert set_.status_code == 200 and set_.json()["limit_bytes"] == limit
    try:
        with pytest.raises(AssertionError, match="quota exceeded"):
            hub.push_image("alice", f"alice/quota-{unique}", "v2", layer=os.urandom(100))
    finally:
        assert hub.api("siteadmin").put(path, json={"limit_bytes": None}).json()["limit_bytes"] is None


def _digest(value: str):  # type: ignore[no-untyped-def]
    from dockyard.digests import Digest

    return Digest.parse(value)
