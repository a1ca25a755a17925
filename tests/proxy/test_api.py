"""Proxy namespaces in the JSON API: administrators add, list and remove them; nobody else does,
and upstream credentials go in but never come out. Dockyard runs in this process."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.proxy.inprocess import PASSWORD, dockyard

pytestmark = pytest.mark.anyio


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
        assert listed.json()["results"][0]["usage_bytes"] == 0
        limit = {"size_limit_bytes": 10**9}
        assert (await client.patch("/v2/proxies/hub/", json=limit, headers=user)).status_code == 403
        limited = await client.patch("/v2/proxies/hub/", json=limit, headers=admin)
        assert limited.status_code == 200 and limited.json()["size_limit_bytes"] == 10**9
        negative = await client.patch("/v2/proxies/hub/", json={"size_limit_bytes": -1}, headers=admin)
        assert negative.status_code == 400
        missing = await client.patch("/v2/proxies/nope/", json=limit, headers=admin)
        assert missing.status_code == 404
        assert (await client.get("/v2/proxies/", headers=user)).status_code == 403
        assert (await client.delete("/v2/proxies/hub/", headers=admin)).status_code == 204
        assert (await client.delete("/v2/proxies/hub/", headers=admin)).status_code == 404


async def _web_login(client: httpx.AsyncClient, username: str) -> None:
    form = await client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None
    answer = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf[1]}
    )
    assert answer.status_code == 303, answer.text


async def test_the_administration_page_shows_each_proxy_with_its_counts(tmp_path: Path) -> None:
    async with dockyard(tmp_path) as (client, services):
        await services.accounts.create_user("boss", "", PASSWORD, admin=True)
        await services.accounts.create_user("someone", "", PASSWORD)
        await services.proxy.add("hub", "https://registry-1.docker.io", size_limit=2 * 10**9)
        assert (await client.get("/admin/proxies")).status_code in (302, 303)  # anonymous: log in first
        await _web_login(client, "someone")
        assert (await client.get("/admin/proxies")).status_code == 404  # like every admin page
        client.cookies.clear()
        await _web_login(client, "boss")
        page = await client.get("/admin/proxies")
        assert page.status_code == 200
        assert 'data-namespace="hub"' in page.text and "https://registry-1.docker.io" in page.text
        assert '<td class="hits">0</td>' in page.text
        assert '<td class="usage" data-bytes="0">0 Bytes</td>' in page.text
        assert '<td class="limit">2.0 GB</td>' in page.text
