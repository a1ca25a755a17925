"""Helpers for the hub API suite: a server with accounts made by the real CLI, hub logins, images
pushed over the registry protocol with registry tokens, a webhook receiver on loopback, polling."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import httpx

from tests.access.helpers import World

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"
T = TypeVar("T")

# Fast webhook retries and polling, so delivery tests take seconds.
FAST_WEBHOOKS = {
    "DOCKYARD_WEBHOOK_ALLOW_PRIVATE": "true",  # the receivers listen on loopback
    "DOCKYARD_WEBHOOK_RETRY_BASE_SECONDS": "0.3",
    "DOCKYARD_WEBHOOK_POLL_SECONDS": "0.1",
    "DOCKYARD_WEBHOOK_TIMEOUT_SECONDS": "5",
    "DOCKYARD_WEBHOOK_MAX_ATTEMPTS": "5",
}


def eventually(check: Callable[[], T | None], timeout: float = 15.0, interval: float = 0.1) -> T:
    """The first truthy result of `check`, retried until `timeout`; the last result fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still {result!r} after {timeout} s")
        time.sleep(interval)


@dataclass
class Image:
    digest: str
    size: int  # config plus layers, what the Tags page calls compressed size


@dataclass
class Hub:
    """The server (World) plus hub tokens and API clients per user."""

    world: World
    _tokens: dict[str, str] = field(default_factory=dict)
    _clients: dict[str | None, httpx.Client] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.world.server.url

    def login(self, user: str, secret: str | None = None) -> str:
        """A hub token from POST /v2/users/login (cached per user for the password)."""
        if secret is None and user in self._tokens:
            return self._tokens[user]
        response = httpx.post(
            f"{self.url}/v2/users/login",
            json={"username": user, "password": secret or self.world.passwords[user]},
            timeout=30,
        )
        assert response.status_code == 200, (response.status_code, response.text)
        token: str = response.json()["token"]
        if secret is None:
            self._tokens[user] = token
        return token

    def api(self, user: str | None = None) -> httpx.Client:
        """A client for the hub API as `user` (None: anonymous)."""
        client = self._clients.get(user)
        if client is None:
            headers = {"Authorization": f"Bearer {self.login(user)}"} if user else {}
            client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
            self._clients[user] = client
        return client

    def create_pat(self, user: str, label: str, *scopes: str) -> dict[str, Any]:
        """A personal access token made through POST /v2/access-tokens (its answer, token included)."""
        response = self.api(user).post(
            "/v2/access-tokens", json={"token_label": label, "scopes": list(scopes or ["repo:admin"])}
        )
        assert response.status_code == 201, (response.status_code, response.text)
        body: dict[str, Any] = response.json()
        return body

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    # -- content, pushed through the registry like a client would --------------------------------------

    def push_image(
        self,
        user: str,
        repository: str,
        tag: str | None,
        *,
        os: str = "linux",
        architecture: str = "amd64",
        variant: str | None = None,
        layer: bytes | None = None,
    ) -> Image:
        with self._registry(user, repository) as registry:
            return _push_image(registry, repository, tag, os, architecture, variant, layer)

    def push_index(
        self, user: str, repository: str, tag: str, platforms: Sequence[tuple[str, str, str | None]]
    ) -> tuple[str, list[Image]]:
        with self._registry(user, repository) as registry:
            images, descriptors = [], []
            for os, architecture, variant in platforms:
                image = _push_image(registry, repository, None, os, architecture, variant, None)
                images.append(image)
                platform = {
                    "os": os,
                    "architecture": architecture,
                    **({"variant": variant} if variant else {}),
                }
                descriptors.append(
                    {"mediaType": OCI_MANIFEST, "digest": image.digest, "size": 1, "platform": platform}
                )
            index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
            return _put_manifest(registry, repository, tag, index, OCI_INDEX), images

    def _registry(self, user: str, repository: str) -> httpx.Client:
        token = self.world.token(f"repository:{repository}:pull,push", user=user)
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _push_image(
    registry: httpx.Client,
    repository: str,
    tag: str | None,
    os: str,
    architecture: str,
    variant: str | None,
    layer: bytes | None,
) -> Image:
    platform = {"os": os, "architecture": architecture, **({"variant": variant} if variant else {})}
    config = json.dumps({**platform, "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = layer if layer is not None else f"{repository} {os}/{architecture} {time.time_ns()}".encode()
    descriptors = [_upload(registry, repository, data) for data in (config, layer)]
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, **descriptors[0]},
        "layers": [{"mediaType": LAYER, **descriptors[1]}],
    }
    digest = _put_manifest(registry, repository, tag, manifest, OCI_MANIFEST)
    return Image(digest, len(config) + len(layer))


def _upload(registry: httpx.Client, repository: str, data: bytes) -> dict[str, Any]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = registry.post(f"/v2/{repository}/blobs/uploads/")
    assert started.status_code == 202, (started.status_code, started.text)
    done = registry.put(started.headers["location"], params={"digest": digest}, content=data)
    assert done.status_code == 201, (done.status_code, done.text)
    return {"digest": digest, "size": len(data)}


def _put_manifest(
    registry: httpx.Client, repository: str, tag: str | None, manifest: dict[str, Any], media_type: str
) -> str:
    content = json.dumps(manifest).encode()
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    response = registry.put(
        f"/v2/{repository}/manifests/{tag or digest}", content=content, headers={"Content-Type": media_type}
    )
    assert response.status_code == 201, (response.status_code, response.text)
    return digest


# -- a webhook receiver on loopback ---------------------------------------------------------------------


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    status: int  # what the receiver answered


class Receiver:
    """An HTTP server in a thread that records every POST; answers `statuses` in turn, then 200."""

    def __init__(self, statuses: Sequence[int] = ()) -> None:
        self.statuses = list(statuses)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.received.append(
                        Received(body, {k.lower(): v for k, v in self.headers.items()}, status)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)


def signature(secret: str, body: bytes) -> str:
    """What X-Dockyard-Signature-256 must say for `body`, computed independently of the server."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def iter_pages(client: httpx.Client, url: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every result of a paginated listing, following `next` URLs as hub-tool does."""
    response = client.get(url, params=params)
    while True:
        assert response.status_code == 200, (response.status_code, response.text)
        body = response.json()
        yield from body["results"]
        if not body["next"]:
            return
        response = client.get(body["next"])


# -- Docker Hub's field types ---------------------------------------------------------------------------

DATE = "date"  # an RFC 3339 string, as Docker Hub writes its timestamps
NULL = type(None)

REPOSITORY_SUMMARY: dict[str, Any] = {
    "name": str,
    "namespace": str,
    "repository_type": str,
    "status": int,
    "status_description": str,
    "description": str,
    "is_private": bool,
    "star_count": int,
    "pull_count": int,
    "last_updated": (DATE, NULL),
    "last_modified": DATE,
    "date_registered": DATE,
    "affiliation": (str, NULL),
    "media_types": list,
    "content_types": list,
    "categories": list,
    "storage_size": (int, NULL),
}
REPOSITORY = {
    **REPOSITORY_SUMMARY,
    "user": str,
    "hub_user": str,
    "is_automated": bool,
    "collaborator_count": int,
    "has_starred": bool,
    "full_description": str,
    "permissions": dict,
}
TAG: dict[str, Any] = {
    "id": int,
    "name": str,
    "repository": int,
    "digest": str,
    "full_size": int,
    "last_updated": DATE,
    "last_updater_username": (str, NULL),
    "tag_status": str,
    "tag_last_pulled": (DATE, NULL),
    "tag_last_pushed": (DATE, NULL),
    "v2": bool,
    "media_type": str,
    "content_type": str,
    "images": list,
}
IMAGE: dict[str, Any] = {
    "architecture": str,
    "features": str,
    "variant": (str, NULL),
    "digest": str,
    "os": str,
    "os_features": str,
    "os_version": (str, NULL),
    "size": int,
    "status": str,
    "last_pulled": (DATE, NULL),
    "last_pushed": (DATE, NULL),
}
SEARCH_RESULT = {
    "repo_name": str,
    "short_description": str,
    "star_count": int,
    "pull_count": int,
    "repo_owner": str,
    "is_automated": bool,
    "is_official": bool,
}
ACCESS_TOKEN: dict[str, Any] = {
    "uuid": str,
    "client_id": str,
    "creator_ip": str,
    "creator_ua": str,
    "created_at": DATE,
    "last_used": (DATE, NULL),
    "generated_by": str,
    "is_active": bool,
    "token": str,
    "token_label": str,
    "scopes": list,
    "expires_at": (DATE, NULL),
}
PAGE = {"count": int, "next": (str, NULL), "previous": (str, NULL), "results": list}


def assert_typed(body: Any, fields: dict[str, Any]) -> None:
    """Every field present with one of its Docker Hub types (bool is not taken for int)."""
    assert isinstance(body, dict), body
    for name, kinds in fields.items():
        assert name in body, f"{name!r} missing from {sorted(body)}"
        value = body[name]
        allowed = kinds if isinstance(kinds, tuple) else (kinds,)
        assert any(_is(value, kind) for kind in allowed), f"{name}={value!r} is not {allowed}"


def _is(value: Any, kind: Any) -> bool:
    if kind == DATE:
        if not isinstance(value, str) or not value.endswith("Z"):
            return False
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return False
        return True
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)
