"""Helpers for the registry protocol tests: digests, blobs, manifests and error checks.

Everything here speaks plain HTTP to a running ``dockyard serve`` through an
``httpx.Client`` whose ``base_url`` is the server URL. Upload ``Location`` values
are treated as opaque, as the spec asks: query parameters are appended to them,
never rebuilt from the upload id.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

# Media types -------------------------------------------------------------------------------------

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

EMPTY_JSON = b"{}"
API_VERSION_HEADER = "Docker-Distribution-API-Version"

# Digests and data --------------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512(data: bytes) -> str:
    return "sha512:" + hashlib.sha512(data).hexdigest()


EMPTY_DIGEST = sha256(EMPTY_JSON)
# A well-formed digest nobody ever uploads.
ABSENT_DIGEST = sha256(b"dockyard: this content is never pushed " + uuid.uuid4().bytes)


def random_layer(size: int = 1024) -> bytes:
    return os.urandom(size)


def unique_repo(prefix: str = "test") -> str:
    return f"{prefix}/r{uuid.uuid4().hex[:12]}"


def unique_name() -> str:
    """A one-component name (an official image, read as ``library/<name>``)."""
    return f"r{uuid.uuid4().hex[:12]}"


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


def to_json(document: dict[str, Any]) -> bytes:
    # Pretty-printed on purpose: the registry must store bytes as sent, not re-serialise.
    return json.dumps(document, indent=3).encode()


# URLs --------------------------------------------------------------------------------------------


def with_query(location: str, **params: str) -> str:
    """Append query parameters to an opaque Location, keeping the ones it already has."""
    query = "&".join(f"{key}={quote(value, safe=':')}" for key, value in params.items())
    return f"{location}{'&' if '?' in location else '?'}{query}"


def path_of(location: str) -> str:
    """The path of an absolute or relative Location."""
    return urlsplit(location).path


def path_and_query(location: str) -> str:
    """A Location made relative, so it still works if the server comes back on another port."""
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# Error checks ------------------------------------------------------------------------------------


def assert_error(response: httpx.Response, status: int | tuple[int, ...], *codes: str) -> dict[str, Any]:
    """Check the status and the spec's error body; return the first error entry."""
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.text[:500])
    content_type = response.headers.get("content-type", "")
    assert content_type.split(";")[0].strip() == "application/json", content_type
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("errors"), list), body
    assert body["errors"], body
    for entry in body["errors"]:
        assert isinstance(entry.get("code"), str), entry
        assert isinstance(entry.get("message"), str), entry
        assert re.fullmatch(r"[A-Z_]+", entry["code"]), entry
    found = [entry["code"] for entry in body["errors"]]
    if codes:
        assert any(code in codes for code in found), (found, codes)
    return body["errors"][0]


def raw_request(base_url: str, method: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    """Send one request over a bare socket and return every byte the server sent back."""
    parts = urlsplit(base_url)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def raw_head_has_no_body(base_url: str, path: str) -> tuple[int, bytes]:
    """HEAD over a bare socket: return (status, bytes after the header block)."""
    data = raw_request(base_url, "HEAD", path)
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, rest


def send_truncated(base_url: str, method: str, path: str, declared: int, body: bytes) -> None:
    """Declare ``declared`` bytes of body, send fewer, then drop the connection."""
    assert len(body) < declared
    parts = urlsplit(base_url)
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request + body)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(5)
        try:
            while sock.recv(65536):
                pass
        except (TimeoutError, OSError):
            pass


# Blobs -------------------------------------------------------------------------------------------


def start_upload(client: httpx.Client, repo: str) -> httpx.Response:
    response = client.post(f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    assert response.status_code == 202, (response.status_code, response.text)
    assert response.headers.get("location"), response.headers
    return response


def post_upload(client: httpx.Client, repo: str, data: bytes = b"", **params: str) -> httpx.Response:
    """POST to the upload endpoint with optional query (``digest``, ``mount``, ``from_``)."""
    if "from_" in params:
        params["from"] = params.pop("from_")
    url = f"/v2/{repo}/blobs/uploads/"
    if params:
        url = with_query(url, **params)
    return client.post(url, content=data, headers={"Content-Type": "application/octet-stream"})


def push_blob(client: httpx.Client, repo: str, data: bytes, digest: str | None = None) -> str:
    """POST then PUT (the flow every registry supports); return the digest."""
    digest = digest or sha256(data)
    location = start_upload(client, repo).headers["location"]
    response = client.put(
        with_query(location, digest=digest),
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, (response.status_code, response.text)
    assert response.headers.get("docker-content-digest") == digest
    return digest


def head_blob(client: httpx.Client, repo: str, digest: str) -> int:
    return client.head(f"/v2/{repo}/blobs/{digest}").status_code


# Manifests ---------------------------------------------------------------------------------------


def put_manifest(
    client: httpx.Client, repo: str, reference: str, body: bytes, media_type: str
) -> httpx.Response:
    return client.put(f"/v2/{repo}/manifests/{reference}", content=body, headers={"Content-Type": media_type})


def push_manifest(client: httpx.Client, repo: str, reference: str, body: bytes, media_type: str) -> str:
    response = put_manifest(client, repo, reference, body, media_type)
    assert response.status_code == 201, (response.status_code, response.text)
    digest = sha256(body)
    assert response.headers.get("docker-content-digest") == digest
    return digest


@dataclass
class Image:
    repo: str
    manifest: bytes
    digest: str
    media_type: str
    config: bytes
    layers: list[bytes] = field(default_factory=list)

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.manifest)


def image_manifest(
    config: bytes,
    layers: list[bytes],
    *,
    media_type: str = OCI_MANIFEST,
    config_type: str | None = None,
    layer_type: str | None = None,
    **extra: Any,
) -> bytes:
    docker = media_type == DOCKER_MANIFEST
    config_type = config_type or (DOCKER_CONFIG if docker else OCI_CONFIG)
    layer_type = layer_type or (DOCKER_LAYER if docker else OCI_LAYER)
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": descriptor(config_type, config),
        "layers": [descriptor(layer_type, layer) for layer in layers],
        **extra,
    }
    return to_json(document)


def push_image(
    client: httpx.Client,
    repo: str,
    reference: str | None = None,
    *,
    layers: int = 1,
    media_type: str = OCI_MANIFEST,
    **extra: Any,
) -> Image:
    """Push a config, ``layers`` random layers and a manifest (by tag, or by digest if no tag)."""
    config = to_json({"architecture": "amd64", "os": "linux", "nonce": uuid.uuid4().hex})
    layer_data = [random_layer(256 + i) for i in range(layers)]
    push_blob(client, repo, config)
    for layer in layer_data:
        push_blob(client, repo, layer)
    body = image_manifest(config, layer_data, media_type=media_type, **extra)
    digest = push_manifest(client, repo, reference or sha256(body), body, media_type)
    return Image(repo, body, digest, media_type, config, layer_data)


def index_manifest(children: list[Image], *, media_type: str = OCI_INDEX, **extra: Any) -> bytes:
    platforms = [{"architecture": arch, "os": "linux"} for arch in ("amd64", "arm64", "s390x", "ppc64le")]
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            descriptor(child.media_type, child.manifest, platform=platforms[i % len(platforms)])
            for i, child in enumerate(children)
        ],
        **extra,
    }
    return to_json(document)


def artifact_manifest(
    subject: Image | None,
    artifact_type: str | None,
    *,
    annotations: dict[str, str] | None = None,
    layers: list[bytes] | None = None,
) -> bytes:
    """An OCI 1.1 artifact: empty config, optional artifactType, subject and annotations."""
    document: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    document["config"] = descriptor(OCI_EMPTY, EMPTY_JSON)
    document["layers"] = [descriptor("application/octet-stream", layer) for layer in layers or []]
    if not layers:
        document["layers"] = [descriptor(OCI_EMPTY, EMPTY_JSON)]
    if subject is not None:
        document["subject"] = descriptor(subject.media_type, subject.manifest)
    if annotations:
        document["annotations"] = annotations
    return to_json(document)


def push_artifact(
    client: httpx.Client,
    repo: str,
    subject: Image | None,
    artifact_type: str | None,
    *,
    annotations: dict[str, str] | None = None,
) -> tuple[bytes, httpx.Response]:
    push_blob(client, repo, EMPTY_JSON)
    body = artifact_manifest(subject, artifact_type, annotations=annotations)
    response = put_manifest(client, repo, sha256(body), body, OCI_MANIFEST)
    assert response.status_code == 201, (response.status_code, response.text)
    return body, response


# Pagination --------------------------------------------------------------------------------------

LINK_RE = re.compile(r'^<(?P<url>[^>]+)>;\s*rel="next"$')


def next_link(response: httpx.Response) -> str | None:
    link = response.headers.get("link")
    if link is None:
        return None
    match = LINK_RE.match(link.strip())
    assert match, f"malformed Link header: {link!r}"
    return match["url"]


def walk_pages(client: httpx.Client, url: str, key: str) -> tuple[list[str], int]:
    """Follow Link headers from ``url``; return every item under ``key`` and the page count."""
    items: list[str] = []
    pages = 0
    next_url: str | None = url
    while next_url is not None:
        response = client.get(next_url)
        assert response.status_code == 200, (response.status_code, response.text)
        items += response.json()[key] or []
        pages += 1
        assert pages < 1000, "pagination does not terminate"
        next_url = next_link(response)
    return items, pages


# Server logs ---------------------------------------------------------------------------------------

# What the server logs when a request raised past every handler (a 500): granian, uvicorn.
UNHANDLED_MARKERS = ("Application callable raised an exception", "Exception in ASGI application")


def assert_no_unhandled_errors(server: Any) -> None:
    """The server's log shows no request that ended in an unhandled exception.

    Logged and handled failures (an audit write on a full disk) may carry tracebacks; these
    markers are only written for exceptions no handler caught."""
    log = server.log_tail(10**8)
    found = [marker for marker in UNHANDLED_MARKERS if marker in log]
    assert not found, server.log_tail()
