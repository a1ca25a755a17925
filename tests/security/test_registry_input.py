"""Hostile manifests and descriptors never cause a 5xx, now or later (issue 9, item 6).

A manifest nested 50,000 levels deep raised RecursionError, a descriptor size of 10^30 an
OverflowError (500s); a size of 2^62 was stored and then broke the tags API and the Tags page for
good (an SQL SUM overflowed), and a deeply nested config blob broke them too. Sizes are now
integers within int64, the blobs' sizes must be the stored ones, and what the hub reads back
is read defensively. One server with token auth, so the hub's API and pages are checked too.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.access.helpers import World, threaded_world
from tests.registry.helpers import (
    DOCKER_LAYER,
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    assert_error,
    descriptor,
    push_blob,
    sha256,
)

OWNER = "alice"
DEEP = 50_000


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with threaded_world(tmp_path_factory.mktemp("registry-input") / "data") as world:
        world.create_user(OWNER)
        yield world


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[httpx.Client]:
    token = world.token(f"repository:{OWNER}/input:pull,push,delete", user=OWNER)
    with world.client(token) as client:
        yield client


@pytest.fixture(scope="module")
def blobs(client: httpx.Client) -> tuple[bytes, bytes]:
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    layer = os.urandom(300)
    push_blob(client, f"{OWNER}/input", config)
    push_blob(client, f"{OWNER}/input", layer)
    return config, layer


def manifest(config: bytes, layer: bytes, **changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": [descriptor(OCI_LAYER, layer)],
    }
    document.update(changes)
    return document


def put(client: httpx.Client, reference: str, body: bytes | dict[str, Any]) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.put(
        f"/v2/{OWNER}/input/manifests/{reference}", content=content, headers={"Content-Type": OCI_MANIFEST}
    )


def assert_hub_reads_tags(world: World, repository: str) -> None:
    """The registry's tag list, the hub API's tags and the Tags page all answer."""
    reader = world.token(f"repository:{repository}:pull", user=OWNER)
    with world.client(reader) as client:
        assert client.get(f"/v2/{repository}/tags/list").status_code == 200
    api = httpx.get(f"{world.server.url}/v2/repositories/{repository}/tags", timeout=30)
    assert api.status_code == 200, (api.status_code, api.text[:300])
    page = httpx.get(f"{world.server.url}/r/{repository}/tags", timeout=30)
    assert page.status_code == 200, page.status_code


@pytest.mark.parametrize(
    "body",
    [
        b'{"schemaVersion":2,"mediaType":"'
        + OCI_MANIFEST.encode()
        + b'","x":'
        + b"[" * DEEP
        + b"]" * DEEP
        + b"}",
        b"[" * DEEP + b"]" * DEEP,
        b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        b'{"schemaVersion":2,"annotations":' + b"[" * 70 + b"]" * 70 + b"}",
    ],
    ids=["deep-field", "deep-array", "deep-object", "just-too-deep"],
)
def test_deeply_nested_manifests_are_manifest_invalid(client: httpx.Client, body: bytes) -> None:
    """Defends against RecursionError (a 500) from JSON nested deeper than Python's stack."""
    assert_error(put(client, "deep", body), 400, "MANIFEST_INVALID")


@pytest.mark.parametrize(
    "size",
    [10**30, 2**63, 2**64 + 1, -1, -(2**63), 1.5, 1e400, "300", True, None, [300], {"n": 300}],
    ids=repr,
)
@pytest.mark.parametrize("where", ["config", "layers"])
def test_descriptor_sizes_outside_int64_or_not_integers_are_manifest_invalid(
    client: httpx.Client, blobs: tuple[bytes, bytes], size: Any, where: str
) -> None:
    """Defends against OverflowError (a 500) when a size does not fit the database's integers."""
    config, layer = blobs
    document = manifest(config, layer)
    target = document["config"] if where == "config" else document["layers"][0]
    target["size"] = size
    body = json.dumps(document).encode().replace(b"Infinity", b"1e400")
    assert_error(put(client, "sizes", body), 400, "MANIFEST_INVALID")


@pytest.mark.parametrize("lie", [2**62, 301, 299, 0])
def test_a_size_that_lies_about_a_stored_blob_is_manifest_invalid(
    world: World, client: httpx.Client, blobs: tuple[bytes, bytes], lie: int
) -> None:
    """Defends against sizes stored unchecked (2^62 was stored, then broke the tags API and page)."""
    config, layer = blobs
    document = manifest(config, layer)
    document["layers"][0]["size"] = lie
    error = assert_error(put(client, "lie", document), 400, "MANIFEST_INVALID")
    assert error["detail"] == {"digest": sha256(layer), "size": lie, "stored": len(layer)}
    assert put(client, "lie", manifest(config, layer)).status_code == 201
    assert_hub_reads_tags(world, f"{OWNER}/input")


def test_foreign_layers_cannot_add_up_past_int64(
    world: World, client: httpx.Client, blobs: tuple[bytes, bytes]
) -> None:
    """Foreign layers live elsewhere, so their sizes cannot be checked: each and their sum must fit."""
    config, _ = blobs
    foreign = {
        "mediaType": DOCKER_LAYER,
        "digest": sha256(b"elsewhere"),
        "size": 2**62,
        "urls": ["https://example.com/layer"],
    }
    too_big = manifest(config, b"", layers=[foreign, {**foreign, "digest": sha256(b"also elsewhere")}])
    assert_error(put(client, "foreign", too_big), 400, "MANIFEST_INVALID")
    assert put(client, "foreign", manifest(config, b"", layers=[foreign])).status_code == 201
    assert_hub_reads_tags(world, f"{OWNER}/input")


def test_a_deeply_nested_config_blob_does_not_break_the_tags_api_or_page(world: World) -> None:
    """The hub reads a single image's platform from its config blob, which any pusher controls."""
    repository = f"{OWNER}/deep-config"
    token = world.token(f"repository:{repository}:pull,push", user=OWNER)
    config = b"[" * DEEP + b"]" * DEEP
    layer = os.urandom(100)
    with world.client(token) as client:
        push_blob(client, repository, config)
        push_blob(client, repository, layer)
        body = json.dumps(manifest(config, layer)).encode()
        response = client.put(
            f"/v2/{repository}/manifests/v1", content=body, headers={"Content-Type": OCI_MANIFEST}
        )
        assert response.status_code == 201, response.text
    assert_hub_reads_tags(world, repository)


def test_sizes_stored_before_they_were_checked_do_not_break_the_tags_api_or_page(world: World) -> None:
    """A database written by an older Dockyard may hold lying sizes: the hub must still add them up."""
    repository = f"{OWNER}/legacy"
    token = world.token(f"repository:{repository}:pull,push", user=OWNER)
    config, layers = b'{"os":"linux","architecture":"amd64"}', [os.urandom(10), os.urandom(11)]
    with world.client(token) as client:
        for blob in (config, *layers):
            push_blob(client, repository, blob)
        document = manifest(config, layers[0], layers=[descriptor(OCI_LAYER, layer) for layer in layers])
        body = json.dumps(document).encode()
        response = client.put(
            f"/v2/{repository}/manifests/v1", content=body, headers={"Content-Type": OCI_MANIFEST}
        )
        assert response.status_code == 201, response.text
    with sqlite3.connect(world.data_dir / "dockyard.db") as db:  # what main stored for 2^62 sizes
        db.execute(
            "UPDATE manifest_references SET size = ? WHERE digest IN (?, ?)",
            (2**62, sha256(layers[0]), sha256(layers[1])),
        )
    assert_hub_reads_tags(world, repository)
    api = httpx.get(f"{world.server.url}/v2/repositories/{repository}/tags/v1", timeout=30)
    assert api.json()["full_size"] == 2**63 + len(config)
