"""The repository state machine against a real server with token auth (issue 9, item 4).

A deleted repository ends its upload sessions; a session can never finish into the repository
after its deletion; a repository the registry creates again takes its namespace's default
visibility. Before, the exact scenario below brought a private repository back public with the
old layer readable by anyone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.access.helpers import World, threaded_world
from tests.registry.helpers import (
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    assert_error,
    descriptor,
    sha256,
    with_query,
)

OWNER = "alice"
REPOSITORY = f"{OWNER}/secret"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with threaded_world(tmp_path_factory.mktemp("registry-state") / "data") as world:
        world.create_user(OWNER)
        world.cli("repo", "default-visibility", OWNER, "--private")
        yield world


def hub_delete(world: World, repository: str) -> None:
    login = httpx.post(
        f"{world.server.url}/v2/users/login",
        json={"username": OWNER, "password": world.passwords[OWNER]},
        timeout=30,
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    deleted = httpx.delete(f"{world.server.url}/v2/repositories/{repository}/", headers=headers, timeout=30)
    assert deleted.status_code == 202, (deleted.status_code, deleted.text)


def session_dir(world: World, location: str) -> Path:
    return world.data_dir / "storage" / "uploads" / urlsplit(location).path.rsplit("/", 1)[-1]


def test_a_deleted_private_repository_does_not_come_back_public_with_its_layer(world: World) -> None:
    """Defends against the issue's exact scenario: start an upload in a private namespace, delete
    the repository, finish the upload and push a manifest. The repository came back public and
    the layer of the deleted private repository was readable by anyone."""
    pusher = world.token(f"repository:{REPOSITORY}:pull,push", user=OWNER)
    layer = os.urandom(4096)
    with world.client(pusher) as client:
        started = client.post(f"/v2/{REPOSITORY}/blobs/uploads/")
        assert started.status_code == 202, started.text
        patched = client.patch(
            started.headers["location"],
            content=layer[:2048],
            headers={"Content-Type": "application/octet-stream"},
        )
        assert patched.status_code == 202, patched.text
        location = patched.headers["location"]
        assert session_dir(world, location).is_dir()

        hub_delete(world, REPOSITORY)

        # The session ended with the repository, its bytes too.
        assert not session_dir(world, location).exists()
        finished = client.put(with_query(location, digest=sha256(layer)), content=layer[2048:])
        assert_error(finished, 404, "BLOB_UPLOAD_UNKNOWN")

    # A push into the name, with a token from after the delete (an older one may not recreate it,
    # tests/access/test_delete_wins.py), makes a new repository: its config uploads, the old layer
    # is not there.
    with world.client(world.token(f"repository:{REPOSITORY}:pull,push", user=OWNER)) as client:
        config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
        again = client.post(
            with_query(f"/v2/{REPOSITORY}/blobs/uploads/", digest=sha256(config)), content=config
        )
        assert again.status_code == 201, again.text
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": descriptor(OCI_CONFIG, config),
                "layers": [descriptor(OCI_LAYER, layer)],
            }
        ).encode()
        pushed = client.put(
            f"/v2/{REPOSITORY}/manifests/v1", content=manifest, headers={"Content-Type": OCI_MANIFEST}
        )
        assert_error(pushed, 400, "MANIFEST_BLOB_UNKNOWN")

    # The new repository is private, as its namespace's default says: anonymous callers get nothing.
    anonymous = world.token(f"repository:{REPOSITORY}:pull")
    with world.client(anonymous) as client:
        for path in (f"/v2/{REPOSITORY}/blobs/{sha256(layer)}", f"/v2/{REPOSITORY}/blobs/{sha256(config)}"):
            response = client.get(path)
            assert response.status_code == 401, (path, response.status_code)
    listed = world.cli("repo", "list").stdout
    line = next(row for row in listed.splitlines() if REPOSITORY in row)
    assert "private" in line.lower(), listed
