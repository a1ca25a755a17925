"""Issue 13, item 2: the instance mirror answers pulls of names Dockyard does not hold from its
upstream (docker's ``registry-mirrors``), caches them under its namespace, and leaves names
Dockyard holds, and pushes, alone. Dockyard runs in this process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.proxy.inprocess import PASSWORD, dockyard, granted, token
from tests.proxy.test_freshness import _publish
from tests.proxy.upstreams import CountingRegistry

pytestmark = pytest.mark.anyio


@pytest.fixture
def upstream() -> Iterator[CountingRegistry]:
    registry = CountingRegistry([os.urandom(1024)])
    yield registry
    registry.close()


async def test_names_dockyard_does_not_hold_come_from_the_mirror(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    digest = _publish(upstream, "3.20", upstream.digests[0])
    async with dockyard(tmp_path, proxy_allow_private=True) as (client, services):
        await services.accounts.create_user("alice", "", PASSWORD)
        await services.proxy.add("mirror", upstream.url, mirror=True)
        bearer = await token(client, "repository:library/alpine:pull")  # anonymous, as docker asks
        assert [a for entry in granted(bearer) for a in entry["actions"]] == ["pull"]
        auth = {"Authorization": bearer}
        answer = await client.get("/v2/library/alpine/manifests/3.20", headers=auth)
        assert answer.status_code == 200 and answer.headers["docker-content-digest"] == digest
        blob = await client.get(f"/v2/library/alpine/blobs/{upstream.digests[0]}", headers=auth)
        assert blob.status_code == 200 and len(blob.content) == 1024
        assert any(r.startswith("GET /v2/library/alpine/manifests/3.20") for r in upstream.requests)
        # Cached under the mirror's namespace, not as library/alpine: nobody can push over it there.
        assert await services.registry.store.manifest_by_tag("mirror/library/alpine", "3.20") is not None
        assert await services.registry.store.repository_identity("library/alpine") is None
        # The owner of a namespace still pushes into new repositories of it.
        push = await token(client, "repository:alice/new:pull,push", ("alice", PASSWORD))
        assert sorted(a for entry in granted(push) for a in entry["actions"]) == ["pull", "push"]
        started = await client.post("/v2/alice/new/blobs/uploads/", headers={"Authorization": push})
        assert started.status_code == 202
