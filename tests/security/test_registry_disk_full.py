"""A full disk, for real: the data folder on a 24 MiB tmpfs, filled to the last byte (issue 9, item 7).

Before, every write answered a bare ``500 Internal Server Error`` (ENOSPC from the files,
"database or disk is full" from SQLite), deletes too, and failed upload starts left empty
folders. Now writes answer 503 UNAVAILABLE in the registry's format naming the cause, reads go
on, deletes get through (the reserve file gives SQLite room), and writes resume once there is
room again. Mounting needs root (CI runs as root); elsewhere these tests skip, and under CI=true
they fail instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.access.helpers import World
from tests.conftest import OPEN_REGISTRY, DockyardServer, in_ci
from tests.registry.helpers import (
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    Image,
    assert_error,
    assert_no_unhandled_errors,
    descriptor,
    push_image,
    sha256,
    with_query,
)

DISK = "24m"
RESERVE = 2 * 1024 * 1024
ENV = {"DOCKYARD_DISK_RESERVE_BYTES": str(RESERVE)}
MiB = 1024 * 1024


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs of its own, unmounted afterwards."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK},mode=0700", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        problem = f"cannot mount a tmpfs (needs root): {mounted.stderr.strip()}"
        if in_ci():
            pytest.fail(f"{problem} (CI=true: this test must run, not skip)")
        pytest.skip(problem)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte, as another program on the machine could."""
    filler = disk / "filler"
    with filler.open("ab") as f:
        try:
            while True:
                f.write(b"\0" * MiB)
                f.flush()
        except OSError as exc:
            assert exc.errno == 28, exc  # ENOSPC
    return filler


def assert_full(response: httpx.Response) -> None:
    error = assert_error(response, 503, "UNAVAILABLE")
    assert "disk is full" in error["message"], error


def upload_sessions(data: Path) -> dict[str, list[str]]:
    root = data / "storage" / "uploads"
    return {d.name: sorted(os.listdir(d)) for d in root.iterdir()} if root.exists() else {}


def big_manifest(image: Image, pad: int) -> bytes:
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, image.config),
        "layers": [descriptor(OCI_LAYER, layer) for layer in image.layers],
        "annotations": {"pad": os.urandom(pad).hex()},
    }
    return json.dumps(document).encode()


def test_a_full_disk_refuses_writes_clearly_serves_reads_and_lets_deletes_through(disk: Path) -> None:
    """Defends against 500s, refused deletes and empty upload folders on a full disk."""
    data = disk / "data"
    with (
        DockyardServer(data, log_path=disk.parent / "server.log", env={**OPEN_REGISTRY, **ENV}) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        image = push_image(client, "full/app", "v1", layers=2)
        assert (data / "reserve").stat().st_size == RESERVE
        open_session = client.post("/v2/full/app/blobs/uploads/").headers["location"]
        session_id = urlsplit(open_session).path.rsplit("/", 1)[-1]
        filler = fill(disk)

        # Writes: 503 in the registry's format, whichever part of the disk they needed.
        assert_full(client.post("/v2/full/app/blobs/uploads/"))
        # A monolithic upload fails before its body is read, so it sends none here: a server that
        # closes a half-read request may lose its answer (lingering close is issue 9's item 9).
        assert_full(client.post(with_query("/v2/full/app/blobs/uploads/", digest=sha256(b""))))
        # A chunk under the 1 MiB the server reads before its first write is read whole.
        blob = os.urandom(MiB // 2)
        assert_full(
            client.patch(open_session, content=blob, headers={"Content-Type": "application/octet-stream"})
        )
        answers = []
        for index in range(40):  # manifests fit in the database's log until it cannot grow
            response = client.put(
                f"/v2/full/app/manifests/m{index}",
                content=big_manifest(image, 100_000),
                headers={"Content-Type": OCI_MANIFEST},
            )
            answers.append(response.status_code)
            if response.status_code != 201:
                assert_full(response)
                break
        assert answers[-1] == 503, answers

        # No half-made sessions: the one opened before the disk filled is all there is.
        assert list(upload_sessions(data)) == [session_id]
        assert all(files for files in upload_sessions(data).values())

        # Reads go on.
        accept = {"Accept": OCI_MANIFEST}
        assert client.get("/v2/full/app/manifests/v1", headers=accept).content == image.manifest
        assert client.head("/v2/full/app/manifests/v1", headers=accept).status_code == 200
        assert client.get(f"/v2/full/app/blobs/{sha256(image.layers[0])}").content == image.layers[0]
        assert "v1" in client.get("/v2/full/app/tags/list").json()["tags"]
        assert "full/app" in client.get("/v2/_catalog").json()["repositories"]

        # Deletes get through.
        assert client.delete("/v2/full/app/manifests/v1").status_code == 202
        assert client.delete(f"/v2/full/app/manifests/{image.digest}").status_code == 202
        assert client.delete(f"/v2/full/app/blobs/{sha256(image.layers[1])}").status_code == 202
        assert client.delete(open_session).status_code == 204
        assert_error(client.get(f"/v2/full/app/manifests/{image.digest}"), 404, "MANIFEST_UNKNOWN")

        # What the deletes freed stays theirs until the disk has room for the reserve again.
        assert_full(client.post("/v2/full/app/blobs/uploads/"))
        filler.unlink()
        push_image(client, "full/app", "v2")
        assert (data / "reserve").stat().st_size == RESERVE
        assert upload_sessions(data) == {}

    assert_no_unhandled_errors(server)
    log = server.log_tail(10**7)
    assert "for the metadata database" in log  # SQLite's "database or disk is full" was met
    assert "reserve kept for deletes" in log  # and a push waited for the reserve to come back


def test_a_push_into_a_new_repository_on_a_full_disk_is_503_with_token_auth(disk: Path) -> None:
    """The token guard creates the repository before the registry runs; that write must not 500."""
    # The log stays off the small disk: the server must not need room to say what went wrong.
    server = DockyardServer(
        disk / "data", log_path=disk.parent / "server.log", env={"DOCKYARD_AUTH": "token", **ENV}
    )
    with server, contextlib.closing(World(server)) as world:
        world.create_user("alice")
        token = world.token("repository:alice/new:pull,push", "repository:alice/old:pull,push", user="alice")
        with world.client(token) as client:
            push_image(client, "alice/old", "v1")
            fill(disk)
            assert_full(client.post("/v2/alice/new/blobs/uploads/"))
            assert_full(client.post("/v2/alice/old/blobs/uploads/"))
            assert client.get("/v2/alice/old/tags/list").status_code == 200
        (disk / "filler").unlink()
        assert_no_unhandled_errors(world.server)
