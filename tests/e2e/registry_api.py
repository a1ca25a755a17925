"""Direct HTTP checks against the registry, to confirm what a client claims it did."""

from __future__ import annotations

import hashlib

import httpx

from tests.conftest import DockyardServer

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPT_ANY_MANIFEST = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST))


def sha256_digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def fetch_manifest(server: DockyardServer, name: str, reference: str, method: str = "GET") -> httpx.Response:
    return httpx.request(
        method,
        f"{server.url}/v2/{name}/manifests/{reference}",
        headers={"Accept": ACCEPT_ANY_MANIFEST},
        timeout=30,
    )


def manifest_digest(server: DockyardServer, name: str, reference: str) -> str | None:
    """The Docker-Content-Digest a HEAD of the manifest answers with, or None on 404."""
    response = fetch_manifest(server, name, reference, method="HEAD")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, f"HEAD {response.url}: {response.status_code}"
    return response.headers["Docker-Content-Digest"]


def tag_list(server: DockyardServer, name: str) -> list[str]:
    response = httpx.get(f"{server.url}/v2/{name}/tags/list", timeout=30)
    assert response.status_code == 200, f"GET {response.url}: {response.status_code} {response.text}"
    body = response.json()
    assert body["name"] == name
    tags: list[str] = body["tags"]
    return tags
