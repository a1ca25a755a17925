"""Issue 13, item 6: a proxy namespace's cached repositories have their web and API pages like any
other, whatever the namespace's name (``hub`` is shorter than a Docker ID, ``quay-io`` has a
separator), and a proxy namespace's name stays out of every account's reach.
Dockyard runs in this process; the upstream is a small registry on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockyard.accounts.errors import AccountError
from dockyard.proxy.records import ProxyError
from tests.proxy.inprocess import PASSWORD, dockyard, token
from tests.proxy.test_space import _publish
from tests.proxy.upstreams import CountingRegistry

pytestmark = pytest.mark.anyio
PROXY = {"proxy_allow_private": True}


@pytest.fixture
def upstream() -> Iterator[CountingRegistry]:
    registry = CountingRegistry([os.urandom(4096)])
    _publish(registry, "v1", registry.digests[0])
    yield registry
    registry.close()


async def _api_login(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    answer = await client.post("/v2/users/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


@pytest.mark.parametrize("namespace", ["hub", "quay-io", "k8s.gcr_io"])
async def test_a_cached_repository_has_its_pages_whatever_the_proxy_is_named(
    tmp_path: Path, upstream: CountingRegistry, namespace: str
) -> None:
    async with dockyard(tmp_path, **PROXY) as (client, services):
        await services.accounts.create_user("boss", "", PASSWORD, admin=True)
        await services.proxy.add(namespace, upstream.url)
        bearer = await token(client, f"repository:{namespace}/app:pull")
        pulled = await client.get(f"/v2/{namespace}/app/manifests/v1", headers={"Authorization": bearer})
        assert pulled.status_code == 200, pulled.text
        for headers in ({}, await _api_login(client, "boss")):  # public: anonymous and admin alike
            for path in (f"/r/{namespace}/app", f"/r/{namespace}/app/tags", f"/u/{namespace}"):
                page = await client.get(path, headers=headers)
                assert page.status_code == 200, (path, page.status_code)
            detail = await client.get(f"/v2/repositories/{namespace}/app/", headers=headers)
            assert detail.status_code == 200, detail.text
            assert detail.json()["namespace"] == namespace and detail.json()["name"] == "app"
            tags = await client.get(f"/v2/repositories/{namespace}/app/tags", headers=headers)
            assert [t["name"] for t in tags.json()["results"]] == ["v1"]
            listed = await client.get(f"/v2/repositories/{namespace}/", headers=headers)
            assert [r["name"] for r in listed.json()["results"]] == ["app"]
        # What the namespace grammar lets through is still only what exists.
        assert (await client.get(f"/r/{namespace}/other")).status_code == 404
        assert (await client.get("/v2/repositories/no-such/app/")).status_code == 404
        assert (await client.get("/v2/repositories/a--b/app/")).status_code == 400


async def test_no_account_takes_a_proxy_namespace_and_no_proxy_takes_an_account(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    async with dockyard(tmp_path, **PROXY) as (client, services):
        await services.accounts.create_user("alice", "", PASSWORD)
        await services.proxy.add("proxied", upstream.url)  # a valid Docker ID: only the table holds it
        with pytest.raises(AccountError):
            await services.accounts.create_user("proxied", "", PASSWORD)
        with pytest.raises(AccountError):
            await services.accounts.create_org("proxied", "alice")
        with pytest.raises(ProxyError, match="taken by a user"):
            await services.proxy.add("alice", upstream.url)
        # Nobody creates a repository in a proxy namespace, whatever its name.
        alice = await _api_login(client, "alice")
        await services.proxy.add("hub", upstream.url)
        for namespace in ("proxied", "hub"):
            created = await client.post(
                f"/v2/namespaces/{namespace}/repositories", json={"name": "x"}, headers=alice
            )
            assert created.status_code in (400, 403), created.text
            assert await services.accounts.get_repository(f"{namespace}/x") is None
