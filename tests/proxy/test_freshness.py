"""Issue 13, item 4: tags are re-checked with a HEAD after their TTL, digests never need the
upstream once cached, and an upstream that fails (5xx, 429, gone) leaves the cached tag served.
Dockyard runs in this process; the upstream is a small registry on loopback."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.proxy.records import Credentials
from tests.proxy.inprocess import dockyard
from tests.proxy.upstreams import CountingRegistry

pytestmark = pytest.mark.anyio
OPEN = {"auth": "none", "proxy_allow_private": True}
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def upstream() -> Iterator[CountingRegistry]:
    registry = CountingRegistry([os.urandom(1024), os.urandom(1024)])
    yield registry
    registry.close()


def _publish(upstream: CountingRegistry, tag: str, layer: str) -> str:
    """Point ``tag`` upstream at a new manifest (with ``layer``); its digest."""
    import hashlib

    content = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "size": 1024,
                "digest": layer,
            },
            "layers": [],
        }
    ).encode()
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    upstream.manifests[tag] = upstream.manifests[digest] = (OCI_MANIFEST, content, digest)
    return digest


def _manifest_requests(upstream: CountingRegistry, method: str) -> int:
    return sum(1 for r in upstream.requests if r.startswith(f"{method} ") and "/manifests/" in r)


async def test_a_tag_is_served_from_cache_within_its_ttl_and_rechecked_after(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    first = _publish(upstream, "v1", upstream.digests[0])
    async with dockyard(tmp_path, **OPEN) as (client, services):
        await services.proxy.add("long", upstream.url, ttl_seconds=3600)
        await services.proxy.add("short", upstream.url, ttl_seconds=0)
        for namespace in ("long", "short"):
            answer = await client.get(f"/v2/{namespace}/app/manifests/v1")
            assert answer.headers["docker-content-digest"] == first
        assert _manifest_requests(upstream, "GET") == 2
        second = _publish(upstream, "v1", upstream.digests[1])
        # Within the TTL: the cached tag, without asking the upstream.
        assert (await client.get("/v2/long/app/manifests/v1")).headers["docker-content-digest"] == first
        assert _manifest_requests(upstream, "HEAD") == 0
        # Past it: a HEAD finds the new digest, which is fetched and served.
        assert (await client.get("/v2/short/app/manifests/v1")).headers["docker-content-digest"] == second
        assert _manifest_requests(upstream, "HEAD") == 1 and _manifest_requests(upstream, "GET") == 3
        # Unchanged upstream: the HEAD alone renews the check.
        assert (await client.get("/v2/short/app/manifests/v1")).headers["docker-content-digest"] == second
        assert _manifest_requests(upstream, "HEAD") == 2 and _manifest_requests(upstream, "GET") == 3
        listed = {config.namespace: config for config in await services.proxy.list()}
        assert listed["short"].last_checked_at is not None and listed["long"].hits == 1


async def test_cached_content_is_served_when_the_upstream_fails(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    digest = _publish(upstream, "v1", upstream.digests[0])
    async with dockyard(tmp_path, **OPEN) as (client, services):
        await services.proxy.add("up", upstream.url, ttl_seconds=0)
        assert (await client.get("/v2/up/app/manifests/v1")).status_code == 200
        assert (await client.get(f"/v2/up/app/blobs/{upstream.digests[0]}")).status_code == 200
        upstream.manifests.clear()
        for status in (500, 503, 429):
            upstream.fail = status
            answer = await client.get("/v2/up/app/manifests/v1")
            assert answer.status_code == 200 and answer.headers["docker-content-digest"] == digest
        upstream.close()
        before = len(upstream.requests)
        for reference in ("v1", digest):
            answer = await client.get(f"/v2/up/app/manifests/{reference}")
            assert answer.status_code == 200 and answer.headers["docker-content-digest"] == digest
        blob = await client.get(f"/v2/up/app/blobs/{upstream.digests[0]}")
        assert blob.status_code == 200 and len(blob.content) == 1024
        assert len(upstream.requests) == before
        # Nothing cached and nobody upstream: the registry's 503, not a 500.
        missing = await client.get("/v2/up/app/manifests/v2")
        assert missing.status_code == 503 and missing.json()["errors"][0]["code"] == "UNAVAILABLE"


async def test_pulls_log_in_to_an_upstream_with_docker_token_auth(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    """The upstream's Bearer challenge is followed to its realm with the proxy's credentials as
    Basic; the token is kept for the next requests of the same scope."""
    digest = _publish(upstream, "v1", upstream.digests[0])
    upstream.login = ("bot", "s3cret")
    async with dockyard(tmp_path, **OPEN) as (client, services):
        await services.proxy.add("anon", upstream.url)
        await services.proxy.add("authed", upstream.url, credentials=Credentials("bot", "s3cret"))
        refused = await client.get("/v2/anon/app/manifests/v1")
        assert refused.status_code == 503 and refused.json()["errors"][0]["code"] == "UNAVAILABLE"
        answer = await client.get("/v2/authed/app/manifests/v1")
        assert answer.status_code == 200 and answer.headers["docker-content-digest"] == digest
        blob = await client.get(f"/v2/authed/app/blobs/{upstream.digests[0]}")
        assert blob.status_code == 200 and len(blob.content) == 1024
    logins = [r for r in upstream.requests if r.startswith("GET /token")]
    assert len(logins) == 2  # one refused (anonymous), one for authed/app's scope, then reused


async def test_concurrent_pulls_of_a_new_tag_fetch_its_manifest_once(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    digest = _publish(upstream, "v1", upstream.digests[0])
    upstream.delay = 0.3
    async with dockyard(tmp_path, **OPEN) as (client, services):
        await services.proxy.add("up", upstream.url)
        answers = await asyncio.gather(*(client.get("/v2/up/app/manifests/v1") for _ in range(8)))
    assert [a.headers.get("docker-content-digest") for a in answers] == [digest] * 8
    assert _manifest_requests(upstream, "GET") == 1


async def test_the_upstreams_rate_limit_headers_are_logged(
    tmp_path: Path, upstream: CountingRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    """Docker Hub's RateLimit-Limit/RateLimit-Remaining (and Retry-After on a 429) reach the log,
    so an administrator sees the allowance run down before pulls start failing."""
    _publish(upstream, "v1", upstream.digests[0])
    upstream.headers = {"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "7;w=21600"}
    caplog.set_level("INFO", logger="dockyard.proxy")
    async with dockyard(tmp_path, **OPEN) as (client, services):
        await services.proxy.add("up", upstream.url)
        assert (await client.get("/v2/up/app/manifests/v1")).status_code == 200
    logged = [r.getMessage() for r in caplog.records if "rate limit" in r.getMessage()]
    assert logged and "'ratelimit-remaining': '7;w=21600'" in logged[0], caplog.text


async def test_the_upstreams_rate_limit_reaches_the_metrics(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    """RateLimit-Remaining and RateLimit-Limit become gauges per proxy namespace at /metrics, so an
    alert can fire before the allowance runs out."""
    _publish(upstream, "v1", upstream.digests[0])
    upstream.headers = {"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "7;w=21600"}
    async with dockyard(tmp_path, **OPEN) as (client, services):
        await services.proxy.add("up", upstream.url)
        assert (await client.get("/v2/up/app/manifests/v1")).status_code == 200
        scraped = services.metrics.exposition().decode()
    assert 'dockyard_proxy_upstream_ratelimit_remaining{namespace="up"} 7.0' in scraped, scraped
    assert 'dockyard_proxy_upstream_ratelimit_limit{namespace="up"} 100.0' in scraped
