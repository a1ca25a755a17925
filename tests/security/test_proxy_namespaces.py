"""The pull-through cache's threat model (README, "Pull-through cache: threat model"): each test
names the attack it defends against. Dockyard runs in this process (tests/proxy/inprocess.py);
upstreams are small registries on loopback (tests/proxy/upstreams.py) or httpx mock transports.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockyard.proxy.flight import FetchFailed
from dockyard.proxy.records import Credentials
from dockyard.proxy.upstream import Upstream, UpstreamRefused
from tests.proxy.inprocess import PASSWORD, dockyard, granted, token
from tests.proxy.upstreams import CountingRegistry

pytestmark = pytest.mark.anyio
OPEN = {"auth": "none", "proxy_allow_private": True}
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture
def upstream() -> Iterator[CountingRegistry]:
    registry = CountingRegistry([os.urandom(64 * 1024)])
    yield registry
    registry.close()


def _manifest(config: str, layer: str) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 2,
                "digest": config,
            },
            "layers": [
                {"mediaType": "application/vnd.docker.image.rootfs.diff.tar", "size": 1, "digest": layer}
            ],
        }
    ).encode()


def _actions(bearer: str) -> list[str]:
    return [action for entry in granted(bearer) for action in entry["actions"]]


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def test_an_upstream_on_a_private_address_is_refused_unless_allowed(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    """SSRF: an upstream URL on loopback (or any private address) is not connected to unless
    DOCKYARD_PROXY_ALLOW_PRIVATE says so; the pull fails in the registry's format."""
    async with dockyard(tmp_path, auth="none") as (client, services):
        await services.proxy.add("up", upstream.url)
        answer = await client.get(f"/v2/up/some/thing/blobs/{upstream.digests[0]}")
        assert answer.status_code == 503
        assert answer.json()["errors"][0]["code"] == "UNAVAILABLE"
        assert "DOCKYARD_PROXY_ALLOW_PRIVATE" in answer.text
        assert (await client.get("/v2/up/some/thing/manifests/latest")).status_code == 503
    assert upstream.requests == []


async def test_a_proxy_namespace_takes_no_pushes_or_deletes(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    """Cache poisoning by push: nobody writes into a proxy namespace, on an open registry either,
    and an administrator's token for one grants pull only."""
    async with dockyard(tmp_path, auth="none", proxy_allow_private=True) as (client, services):
        await services.proxy.add("up", upstream.url)
        layer = b"x"
        answers = [
            await client.post("/v2/up/app/blobs/uploads/"),
            await client.post(f"/v2/up/app/blobs/uploads/?digest={_sha256(layer)}", content=layer),
            await client.put("/v2/up/app/manifests/v1", content=_manifest(_sha256(b"{}"), _sha256(layer))),
            await client.delete("/v2/up/app/manifests/v1"),
            await client.delete(f"/v2/up/app/blobs/{upstream.digests[0]}"),
        ]
        assert [a.status_code for a in answers] == [403] * 5
        assert {a.json()["errors"][0]["code"] for a in answers} == {"DENIED"}
    async with dockyard(tmp_path / "token", proxy_allow_private=True) as (client, services):
        await services.accounts.create_user("rootadmin", "", PASSWORD, admin=True)
        await services.proxy.add("up", upstream.url)
        bearer = await token(client, "repository:up/app:pull,push,delete", ("rootadmin", PASSWORD))
        assert _actions(bearer) == ["pull"]
        refused = await client.post("/v2/up/app/blobs/uploads/", headers={"Authorization": bearer})
        assert refused.status_code == 401


async def test_a_private_proxy_is_pulled_only_by_its_organisation(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    """A private proxy (its upstream credentials are the instance's) is no open door: anonymous
    callers and other accounts get no pull; the organisation's members do."""
    async with dockyard(tmp_path, proxy_allow_private=True) as (client, services):
        for name in ("owner1", "member1", "stranger1"):
            await services.accounts.create_user(name, "", PASSWORD)
        await services.accounts.create_org("corp", "owner1")
        await services.accounts.add_member("corp", "member1")
        await services.proxy.add("corp", upstream.url, private=True)
        await services.proxy.add("open", upstream.url)
        scope = "repository:corp/app:pull"
        assert _actions(await token(client, scope)) == []
        assert _actions(await token(client, scope, ("stranger1", PASSWORD))) == []
        assert _actions(await token(client, scope, ("member1", PASSWORD))) == ["pull"]
        assert _actions(await token(client, "repository:open/app:pull")) == ["pull"]


async def test_bytes_held_for_another_repository_are_linked_only_if_the_upstream_has_them(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    """Private layers by guessed digest: a blob stored for a private repository is not handed out
    through a proxy namespace whose upstream does not have it."""
    secret = os.urandom(1024)
    async with dockyard(tmp_path, **OPEN) as (client, services):
        await services.proxy.add("up", upstream.url)
        pushed = await client.post(
            f"/v2/alice/private/blobs/uploads/?digest={_sha256(secret)}", content=secret
        )
        assert pushed.status_code == 201
        leak = await client.get(f"/v2/up/any/thing/blobs/{_sha256(secret)}")
        assert leak.status_code == 404 and leak.json()["errors"][0]["code"] == "BLOB_UNKNOWN"
        assert not await services.registry.store.linked_blob_size("up/any/thing", _sha256(secret))
        upstream.blobs[_sha256(secret)] = secret  # now the upstream has it: linked, not downloaded
        upstream.gets[_sha256(secret)] = 0
        found = await client.get(f"/v2/up/any/thing/blobs/{_sha256(secret)}")
        assert found.status_code == 200 and found.content == secret
        assert upstream.gets[_sha256(secret)] == 0


async def test_upstream_bytes_that_do_not_match_their_digest_are_never_cached(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    """Cache poisoning by the upstream (or the network to it): a blob is committed only when its
    bytes hash to its digest, a manifest only under the digest of its bytes and only if that is
    the digest asked for or announced."""
    digest = upstream.digests[0]
    upstream.lie[digest] = os.urandom(64 * 1024)
    content = _manifest(digest, digest)
    upstream.manifests["v1"] = (DOCKER_MANIFEST, content, _sha256(b"another manifest"))
    upstream.manifests[_sha256(b"wanted")] = (DOCKER_MANIFEST, content, _sha256(b"wanted"))
    async with dockyard(tmp_path, **OPEN) as (client, services):
        await services.proxy.add("up", upstream.url)
        with pytest.raises(FetchFailed):  # the response breaks off: a server aborts the connection
            await client.get(f"/v2/up/app/blobs/{digest}")
        assert not await services.registry.store.linked_blob_size("up/app", digest)
        assert not (tmp_path / "storage" / "blobs" / "sha256" / digest[7:9] / digest[7:] / "data").exists()
        for reference in ("v1", _sha256(b"wanted")):
            answer = await client.get(f"/v2/up/app/manifests/{reference}")
            assert answer.status_code == 503, answer.text
        assert await services.registry.store.manifest_by_tag("up/app", "v1") is None


async def test_a_token_realm_in_plain_http_behind_an_https_upstream_gets_no_credentials() -> None:
    """Credential theft by downgrade: an https upstream whose challenge names an http realm would
    have the proxy send its credentials in the clear; the proxy refuses instead."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        challenge = 'Bearer realm="http://auth.example/token",service="registry"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        upstream = Upstream(
            "https://registry.example", Credentials("bot", "s3cret"), client, max_manifest_bytes=1 << 20
        )
        with pytest.raises(UpstreamRefused):
            await upstream.manifest("app", "latest")
    assert [r.url.host for r in seen] == ["registry.example"]
    assert all("authorization" not in r.headers for r in seen)


async def test_credentials_do_not_follow_a_redirect_to_another_host() -> None:
    """Credential leak by redirect: a blob redirected to a CDN (or anywhere the upstream says)
    gets there without the upstream's Authorization header."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "registry.example":
            if "authorization" not in request.headers:
                return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="registry"'})
            return httpx.Response(307, headers={"Location": "https://cdn.example/blob"})
        return httpx.Response(200, content=b"data")

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        upstream = Upstream(
            "https://registry.example", Credentials("bot", "s3cret"), client, max_manifest_bytes=1 << 20
        )
        async with upstream.blob("app", _sha256(b"data")) as response:
            assert await response.aread() == b"data"
    assert seen[-1].url.host == "cdn.example" and "authorization" not in seen[-1].headers
    assert "authorization" in seen[1].headers


async def test_upstream_credentials_are_sealed_at_rest(tmp_path: Path, upstream: CountingRegistry) -> None:
    """A copy of the database (a backup) does not show an upstream's password, nor does the list."""
    async with dockyard(tmp_path, **OPEN) as (_, services):
        await services.proxy.add("up", upstream.url, credentials=Credentials("bot", "hunter2-upstream"))
        listed = await services.proxy.list()
        assert listed[0].has_credentials and "hunter2" not in repr(listed)
    assert b"hunter2-upstream" not in (tmp_path / "dockyard.db").read_bytes()


async def test_a_token_realm_on_a_metadata_address_is_refused_even_where_private_is_allowed(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    """SSRF through the token realm: the upstream names where the proxy logs in; a cloud metadata
    address is refused by the outbound guard whatever DOCKYARD_PROXY_ALLOW_PRIVATE says."""
    upstream.login = ("bot", "s3cret")
    upstream.realm = "http://169.254.169.254/latest/meta-data/token"
    async with dockyard(tmp_path, **OPEN) as (client, services):
        await services.proxy.add("up", upstream.url, credentials=Credentials("bot", "s3cret"))
        answer = await client.get("/v2/up/app/manifests/latest")
        assert answer.status_code == 503 and "metadata" in answer.text
        assert "s3cret" not in answer.text


async def test_oversized_token_answers_and_manifests_are_refused() -> None:
    """Memory exhaustion by a hostile upstream: a token answer is read up to 64 KiB and a manifest
    up to the manifest limit, never whole."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            return httpx.Response(200, content=b"{" + b" " * (1 << 20) + b"}")
        if request.url.path.endswith("/manifests/big"):
            return httpx.Response(200, content=b"x" * (2 << 20))
        return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.example/t"'})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        upstream = Upstream("https://registry.example", None, client, max_manifest_bytes=1 << 20)
        with pytest.raises(UpstreamRefused, match="too large"):
            await upstream.manifest("app", "latest")
        upstream._tokens["repository:app:pull"] = ("Bearer ok", float("inf"))
        with pytest.raises(UpstreamRefused, match="larger than"):
            await upstream.manifest("app", "big")


async def test_a_redirect_from_the_upstream_to_a_metadata_address_is_refused(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    """SSRF through redirects: the upstream answers a blob GET with a redirect (as registries do,
    to a CDN); the redirect is one more connection through the outbound guard, so a cloud metadata
    address is refused, whatever DOCKYARD_PROXY_ALLOW_PRIVATE says, and nothing is cached."""
    digest = upstream.digests[0]
    upstream.redirects[digest] = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    async with dockyard(tmp_path, **OPEN) as (client, services):
        await services.proxy.add("up", upstream.url)
        answer = await client.get(f"/v2/up/app/blobs/{digest}")
        assert answer.status_code == 503, answer.text
        assert "169.254.169.254" in answer.text or "metadata" in answer.text
        assert await services.registry.store.linked_blob_size("up/app", digest) is None


async def test_a_blob_larger_than_the_namespace_limit_is_never_stored(
    tmp_path: Path, upstream: CountingRegistry
) -> None:
    """Disk exhaustion by an oversized upstream answer: in a namespace with a size limit, a blob
    the upstream announces larger than the limit is refused before any byte is stored (one that
    streams past the limit or its announced length is cut off the same way, in flight.py), so one
    pull cannot fill the disk past the limit."""
    digest = upstream.digests[0]  # 64 KiB
    async with dockyard(tmp_path, **OPEN) as (client, services):
        await services.proxy.add("up", upstream.url, size_limit=16 * 1024)
        answer = await client.get(f"/v2/up/app/blobs/{digest}")
        assert answer.status_code == 403 and "size limit" in answer.text
        assert await services.registry.store.linked_blob_size("up/app", digest) is None
        assert not list((tmp_path / "storage").rglob("data"))
        assert not [p for p in services.proxy.cache.flights.spool_dir.glob("*") if p.is_file()]


async def test_only_administrators_choose_upstream_urls(tmp_path: Path) -> None:
    """User-controlled upstream URLs: an upstream URL makes Dockyard connect wherever it points,
    so only administrators add or change proxy namespaces; other accounts (and tokens without
    repo:admin) get 403 from the API, and the CLI needs the data folder."""
    async with dockyard(tmp_path) as (client, services):
        await services.accounts.create_user("someone", "", PASSWORD)
        login = await client.post("/v2/users/login", json={"username": "someone", "password": PASSWORD})
        user = {"Authorization": f"Bearer {login.json()['token']}"}
        body = {"namespace": "evil", "upstream_url": "http://10.0.0.1:5000"}
        assert (await client.post("/v2/proxies/", json=body, headers=user)).status_code == 403
        await services.proxy.add("hub", "https://registry-1.docker.io")
        limit = {"size_limit_bytes": 1}
        assert (await client.patch("/v2/proxies/hub/", json=limit, headers=user)).status_code == 403
        assert (await client.delete("/v2/proxies/hub/", headers=user)).status_code == 403
        assert [c.namespace for c in await services.proxy.list()] == ["hub"]
