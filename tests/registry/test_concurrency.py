"""Simultaneous pushes (spec: "Layer Upload De-duplication": both proceed, one is stored).

Clients push layers and manifests in parallel as a matter of course; docker pushes up to
five layers at once and several clients may push the same base layers at the same time.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import httpx

from tests.conftest import Server
from tests.registry.helpers import (
    OCI_MANIFEST,
    image_manifest,
    push_blob,
    put_manifest,
    random_layer,
    sha256,
    to_json,
    unique_repo,
    with_query,
)

PARALLEL = 8
T = TypeVar("T")


def in_parallel(registry: Server, job: Callable[[httpx.Client, int], T]) -> list[T]:
    """``job`` from PARALLEL threads at once, each with a client of its own."""

    def run(i: int) -> T:
        with registry.client(timeout=60) as client:
            return job(client, i)

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(run, range(PARALLEL)))


def test_same_blob_uploaded_concurrently_to_one_repository(
    client: httpx.Client, registry_app: Server, repo: str
) -> None:
    data = random_layer(300_000)
    digests = in_parallel(registry_app, lambda c, _: push_blob(c, repo, data))
    assert set(digests) == {sha256(data)}
    assert client.get(f"/v2/{repo}/blobs/{sha256(data)}").content == data


def test_same_blob_uploaded_concurrently_to_many_repositories(
    client: httpx.Client, registry_app: Server
) -> None:
    data = random_layer(300_000)
    repos = [unique_repo() for _ in range(PARALLEL)]
    in_parallel(registry_app, lambda c, i: push_blob(c, repos[i], data))
    for repo in repos:
        assert client.get(f"/v2/{repo}/blobs/{sha256(data)}").content == data


def test_same_manifest_pushed_concurrently(client: httpx.Client, registry_app: Server, repo: str) -> None:
    config, layer = to_json({"os": "linux"}), random_layer(100)
    push_blob(client, repo, config)
    push_blob(client, repo, layer)
    body = image_manifest(config, [layer])
    statuses = in_parallel(
        registry_app, lambda c, i: put_manifest(c, repo, f"t{i}", body, OCI_MANIFEST).status_code
    )
    assert statuses == [201] * PARALLEL
    tags = client.get(f"/v2/{repo}/tags/list").json()["tags"]
    assert tags == sorted(f"t{i}" for i in range(PARALLEL))


def test_same_tag_pushed_concurrently_ends_on_one_of_them(
    client: httpx.Client, registry_app: Server, repo: str
) -> None:
    config = to_json({"os": "linux"})
    push_blob(client, repo, config)
    layers = [random_layer(50) for _ in range(PARALLEL)]
    for layer in layers:
        push_blob(client, repo, layer)
    bodies = [image_manifest(config, [layer]) for layer in layers]
    statuses = in_parallel(
        registry_app, lambda c, i: put_manifest(c, repo, "latest", bodies[i], OCI_MANIFEST).status_code
    )
    assert statuses == [201] * PARALLEL
    final = client.get(f"/v2/{repo}/manifests/latest")
    assert final.status_code == 200
    assert final.content in bodies
    for body in bodies:
        assert client.head(f"/v2/{repo}/manifests/{sha256(body)}").status_code == 200


def test_parallel_chunks_to_one_session_never_corrupt_it(
    client: httpx.Client, registry_app: Server, repo: str
) -> None:
    # Every client sends "the next chunk" at offset 0; exactly one may win, the rest get 416.
    location = client.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
    chunks = [random_layer(10_000) for _ in range(PARALLEL)]

    def send(c: httpx.Client, i: int) -> int:
        headers = {"Content-Type": "application/octet-stream", "Content-Range": "0-9999"}
        return c.patch(location, content=chunks[i], headers=headers).status_code

    statuses = in_parallel(registry_app, send)
    assert sorted(statuses) == [202] + [416] * (PARALLEL - 1)
    status = client.get(location)
    assert status.headers["range"] == "0-9999"
    winner = chunks[statuses.index(202)]
    response = client.put(with_query(location, digest=sha256(winner)))
    assert response.status_code == 201, response.text
    assert client.get(f"/v2/{repo}/blobs/{sha256(winner)}").content == winner
