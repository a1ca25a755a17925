"""Docker Hub's ``library/``: its official images live under library/ upstream, which docker adds
itself for a one-part name, so a proxy of Docker Hub adds it too (``hub/alpine`` asks for
``library/alpine``); any other upstream, and any name with a slash, is asked for as it is."""

from __future__ import annotations

import httpx
import pytest

from dockyard.proxy.upstream import Upstream

pytestmark = pytest.mark.unit
DIGEST = "sha256:" + "a" * 64


def _upstream(base_url: str, client: httpx.AsyncClient | None = None) -> Upstream:
    return Upstream(base_url, None, client or httpx.AsyncClient(), max_manifest_bytes=1 << 20)


@pytest.mark.parametrize(
    "base_url", ["https://registry-1.docker.io", "https://index.docker.io", "https://docker.io"]
)
def test_docker_hub_official_images_get_library(base_url: str) -> None:
    upstream = _upstream(base_url)
    assert upstream.upstream_path("alpine") == "library/alpine"
    assert upstream.upstream_path("library/alpine") == "library/alpine"  # never twice
    assert upstream.upstream_path("bitnami/redis") == "bitnami/redis"
    assert upstream.upstream_path("org/team/tool") == "org/team/tool"


@pytest.mark.parametrize(
    "base_url",
    [
        "https://ghcr.io",
        "http://127.0.0.1:5000",
        "https://registry-1.docker.io.example.com",  # a look-alike host is another registry
        "https://mirror.example/docker.io",
    ],
)
def test_other_upstreams_get_the_name_as_it_is(base_url: str) -> None:
    assert _upstream(base_url).upstream_path("alpine") == "alpine"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_requests_and_token_scopes_to_docker_hub_name_library(anyio_backend: str) -> None:
    """What goes on the wire, not only the helper: the blob URL and the scope of the token asked for."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url}")
        if request.url.host == "auth.docker.io":
            return httpx.Response(200, json={"token": "t", "expires_in": 300})
        if "authorization" not in request.headers:
            challenge = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        return httpx.Response(200, headers={"Content-Length": "3"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        upstream = _upstream("https://registry-1.docker.io", client)
        assert await upstream.blob_size("alpine", DIGEST) == 3
    assert seen[0] == f"HEAD https://registry-1.docker.io/v2/library/alpine/blobs/{DIGEST}"
    assert "scope=repository%3Alibrary%2Falpine%3Apull" in seen[1] and "auth.docker.io" in seen[1]
    assert seen[2] == seen[0].replace("HEAD ", "HEAD ", 1)
