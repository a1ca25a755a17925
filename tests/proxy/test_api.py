"""Proxy namespaces in the JSON API: administrators add, list and remove them; nobody else does,
and upstream credentials go in but never come out. Dockyard runs in this process."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.proxy.inprocess import PASSWORD, dockyard

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _login(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    answer = await client.post("/v2/users/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


async def test_administrators_manage_proxy_namespaces_through_the_api(tmp_path: Path) -> None:
    async with dockyard(tmp_path) as (client, services):
        await services.accounts.create_user("boss", "", PASSWORD, admin=True)
        await services.accounts.create_user("someone", "", PASSWORD)
        admin, user = await _login(client, "boss"), await _login(client, "someone")
        body = {
            "namespace": "hub",
            "upstream_url": "https://registry-1.docker.io",
            "username": "bot",
            "password": "upstream-secret",
            "ttl_seconds": 600,
        }
        assert (await client.post("/v2/proxies/", json=body, headers=user)).status_code == 403
        assert (await client.post("/v2/proxies/", json=body)).status_code == 401
        created = await client.post("/v2/proxies/", json=body, headers=admin)
        assert created.status_code == 201, created.text
        assert created.json()["authenticated"] is True and "upstream-secret" not in created.text
        again = await client.post("/v2/proxies/", json=body, headers=admin)
        assert again.status_code == 400 and "already" in again.json()["message"]
        bad = await client.post(
            "/v2/proxies/", json={**body, "namespace": "x", "upstream_url": "ftp://a"}, headers=admin
        )
        assert bad.status_code == 400
        listed = await client.get("/v2/proxies/", headers=admin)
        assert [p["namespace"] for p in listed.json()["results"]] == ["hub"]
        assert "upstream-secret" not in listed.text
        assert (await client.get("/v2/proxies/", headers=user)).status_code == 403
        assert (await client.delete("/v2/proxies/hub/", headers=admin)).status_code == 204
        assert (await client.delete("/v2/proxies/hub/", headers=admin)).status_code == 404
