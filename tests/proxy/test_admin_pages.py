"""/admin/proxies manages proxy namespaces as the CLI and the JSON API do: add (with a login,
TTL, private, mirror, size limit), set the size limit, remove; each form posts with its CSRF
token and redirects back (post/redirect/get), for site administrators only.
Dockyard runs in this process; the upstream is a small registry on loopback."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockyard.services import Services
from tests.proxy.inprocess import PASSWORD, dockyard, token
from tests.proxy.test_api import _web_login
from tests.proxy.test_space import _publish
from tests.proxy.upstreams import CountingRegistry

pytestmark = pytest.mark.anyio
PAGE = "/admin/proxies"


@pytest.fixture
def upstream() -> Iterator[CountingRegistry]:
    registry = CountingRegistry([os.urandom(2048)])
    _publish(registry, "v1", registry.digests[0])
    yield registry
    registry.close()


async def _csrf(client: httpx.AsyncClient) -> str:
    page = await client.get(PAGE)
    assert page.status_code == 200, page.status_code
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found[1]


async def _signed_in_admin(client: httpx.AsyncClient, services: Services) -> None:
    """The site administrator ``boss``, signed in on the web with ``client``."""
    await services.accounts.create_user("boss", "", PASSWORD, admin=True)
    await _web_login(client, "boss")


async def _post(client: httpx.AsyncClient, path: str, **form: str) -> httpx.Response:
    return await client.post(path, data={"csrf_token": await _csrf(client), **form})


async def test_an_administrator_adds_limits_and_removes_a_proxy_from_the_page(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    async with dockyard(tmp_path, proxy_allow_private=True) as (client, services):
        await _signed_in_admin(client, services)
        form = {"namespace": "hub", "upstream_url": upstream.url, "username": "bot", "password": "s3cret"}
        added = await _post(client, PAGE, **form, ttl_seconds="60", size_limit="1GB", private="on")
        assert added.status_code == 303 and added.headers["location"] == PAGE
        shown = await client.get(PAGE)
        assert f"Proxy namespace hub pulls through {upstream.url}." in shown.text
        assert 'data-namespace="hub"' in shown.text and "s3cret" not in shown.text
        (config,) = await services.proxy.list()
        assert (config.namespace, config.ttl_seconds, config.is_private) == ("hub", 60, True)
        assert config.has_credentials and config.size_limit_bytes == 10**9
        assert await services.proxy.rows.credentials("hub") is not None

        limited = await _post(client, f"{PAGE}/hub/limit", size_limit="2GB")
        assert limited.status_code == 303
        assert "has a size limit of 2.0 GB" in (await client.get(PAGE)).text
        assert (await services.proxy.list())[0].size_limit_bytes == 2 * 10**9
        await _post(client, f"{PAGE}/hub/limit", size_limit="")
        assert (await services.proxy.list())[0].size_limit_bytes is None
        refused = await _post(client, f"{PAGE}/hub/limit", size_limit="lots")
        assert refused.status_code == 303 and 'role="alert"' in (await client.get(PAGE)).text

        removed = await _post(client, f"{PAGE}/hub/remove")
        assert removed.status_code == 303
        assert "Removed proxy namespace hub." in (await client.get(PAGE)).text
        assert await services.proxy.list() == []

        mirrored = await _post(client, PAGE, upstream_url=upstream.url, mirror="on", ttl_seconds="300")
        assert mirrored.status_code == 303
        assert [(c.namespace, c.is_mirror) for c in await services.proxy.list()] == [("mirror", True)]


async def test_a_proxy_added_on_the_page_serves_the_next_pull(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    async with dockyard(tmp_path, proxy_allow_private=True) as (client, services):
        await _signed_in_admin(client, services)
        bearer = {"Authorization": await token(client, "repository:up/app:pull", ("boss", PASSWORD))}
        assert (await client.get("/v2/up/app/manifests/v1", headers=bearer)).status_code == 404  # read
        await _post(client, PAGE, namespace="up", upstream_url=upstream.url, ttl_seconds="300")
        assert (await client.get("/v2/up/app/manifests/v1", headers=bearer)).status_code == 200


async def test_a_refused_add_shows_the_form_again_without_the_password(tmp_path: Path) -> None:
    async with dockyard(tmp_path) as (client, services):
        await _signed_in_admin(client, services)
        login = {"username": "bot", "password": "typed-secret"}
        upstream = "https://r.example"
        for form, error in (
            ({"namespace": "Bad Name", "upstream_url": upstream, **login}, "not a proxy namespace name"),
            ({"namespace": "hub", "upstream_url": "ftp://r.example", **login}, "http:// or https://"),
            ({"namespace": "hub", "upstream_url": upstream, "ttl_seconds": "soon", **login}, "TTL"),
            ({"namespace": "hub", "upstream_url": upstream, "size_limit": "huge", **login}, "size"),
            ({"namespace": "hub", "upstream_url": upstream, "username": "bot"}, "a username and a password"),
            ({"upstream_url": upstream, "mirror": "on", "private": "on", **login}, "not private"),
        ):
            answer = await _post(client, PAGE, **form)
            assert answer.status_code == 400, (form, answer.status_code)
            assert error.lower() in answer.text.lower(), (form, error)
            assert "typed-secret" not in answer.text
            assert f'value="{form["upstream_url"]}"' in answer.text and 'value="bot"' in answer.text
        assert await services.proxy.list() == []


async def test_only_administrators_with_the_form_token_manage_proxies(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    async with dockyard(tmp_path, proxy_allow_private=True) as (client, services):
        await services.accounts.create_user("boss", "", PASSWORD, admin=True)
        await services.accounts.create_user("someone", "", PASSWORD)
        await services.proxy.add("hub", upstream.url)
        add = {"namespace": "evil", "upstream_url": "http://169.254.169.254"}
        anonymous = [
            await client.post(PAGE, data=add),
            await client.post(f"{PAGE}/hub/remove", data={}),
        ]
        assert all(a.status_code == 403 for a in anonymous)  # no CSRF token: refused before anything
        await _web_login(client, "someone")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get("/")).text)
        assert csrf is not None
        for path, form in (
            (PAGE, add),
            (f"{PAGE}/hub/remove", {}),
            (f"{PAGE}/hub/limit", {"size_limit": "1"}),
        ):
            answer = await client.post(path, data={"csrf_token": csrf[1], **form})
            assert answer.status_code == 404, (path, answer.status_code)  # like every admin page
        client.cookies.clear()
        await _web_login(client, "boss")
        forged = await client.post(f"{PAGE}/hub/remove", data={"csrf_token": "x" * 32})
        assert forged.status_code == 403
        assert [c.namespace for c in await services.proxy.list()] == ["hub"]
