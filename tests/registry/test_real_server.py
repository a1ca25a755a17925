"""The registry protocol against a real ``dockyard serve``: what the in-process app cannot show.

The rest of this folder runs the app in process (conftest.py). These tests need the server itself:
the bytes of a HEAD answer on the wire (no body after the headers, whatever the status), a client
that drops its connection in the middle of a body, and a server killed with SIGKILL. The session's
open server (``dockyard``) serves them, except the crash, which needs a server of its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import DockyardServer
from tests.registry.helpers import (
    ABSENT_DIGEST,
    OCI_MANIFEST,
    head_blob,
    path_and_query,
    push_blob,
    push_image,
    random_layer,
    raw_head_has_no_body,
    send_truncated,
    sha256,
    start_upload,
    unique_repo,
    with_query,
)
from tests.registry.test_conformance import INVALID_MANIFEST_NAME
from tests.registry.test_uploads import assert_blob, finish, patch_chunk

pytestmark = pytest.mark.e2e


# HEAD on the wire: headers and not one byte after them ------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("blob", 200),
        ("unknown-blob", 404),
        ("manifest-by-tag", 200),
        ("manifest-by-digest", 200),
        ("unknown-tag", 404),
        ("invalid-reference", 404),  # the conformance suite's nonexistentManifest
    ],
)
def test_head_has_no_body_on_the_wire(
    wire_client: httpx.Client, dockyard: DockyardServer, kind: str, status: int
) -> None:
    repo = unique_repo()
    blob = push_blob(wire_client, repo, random_layer(1000))
    image = push_image(wire_client, repo, "v1")
    path = {
        "blob": f"/v2/{repo}/blobs/{blob}",
        "unknown-blob": f"/v2/{repo}/blobs/{ABSENT_DIGEST}",
        "manifest-by-tag": f"/v2/{repo}/manifests/v1",
        "manifest-by-digest": f"/v2/{repo}/manifests/{image.digest}",
        "unknown-tag": f"/v2/{repo}/manifests/nope",
        "invalid-reference": f"/v2/{repo}/manifests/{INVALID_MANIFEST_NAME}",
    }[kind]
    assert wire_client.head(path, headers={"Accept": OCI_MANIFEST}).status_code == status
    assert raw_head_has_no_body(dockyard.url, path) == (status, b"")


# Dropped connections -----------------------------------------------------------------------------


def test_dropped_connection_during_single_post_stores_nothing(
    wire_client: httpx.Client, dockyard: DockyardServer
) -> None:
    repo = unique_repo()
    data = random_layer(20_000)
    digest = sha256(data)
    url = with_query(f"/v2/{repo}/blobs/uploads/", digest=digest)
    send_truncated(dockyard.url, "POST", url, len(data), data[:8_000])
    assert head_blob(wire_client, repo, digest) == 404
    push_blob(wire_client, repo, data)
    assert_blob(wire_client, repo, data)


def settled_offset(client: httpx.Client, location: str) -> int:
    """The session's offset once it stops moving (the server may still be draining a dropped body)."""
    previous = None
    for _ in range(50):
        status = client.get(location)
        assert status.status_code == 204, status.text
        if status.headers["range"] == previous:
            break
        previous = status.headers["range"]
        time.sleep(0.1)
    assert previous is not None
    end = int(previous.split("-")[1])
    return end + 1 if end else 0


def test_dropped_connection_during_patch_can_be_resumed(
    wire_client: httpx.Client, dockyard: DockyardServer
) -> None:
    # The spec's "Resumable Push" use case: ask where the upload stands, send the rest.
    repo = unique_repo()
    data = random_layer(3 * 1024 * 1024)
    location = start_upload(wire_client, repo).headers["location"]
    send_truncated(dockyard.url, "PATCH", path_and_query(location), len(data), data[: 2 * 1024 * 1024])
    assert head_blob(wire_client, repo, sha256(data)) == 404
    offset = settled_offset(wire_client, location)
    assert offset < len(data)
    response = patch_chunk(wire_client, location, data[offset:], offset)
    if response.status_code == 416 and offset == 0:  # "0-0" is ambiguous: zero bytes or one
        response = patch_chunk(wire_client, location, data[1:], 1)
    assert response.status_code == 202, response.text
    assert finish(wire_client, response.headers["location"], sha256(data)).status_code == 201
    assert_blob(wire_client, repo, data)


# A crash -----------------------------------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def crash(server: Any) -> None:
    """SIGKILL the server and every process it spawned, as a power cut would.

    ``server.kill()`` signals only the main process; its worker processes would survive,
    keep the port and answer for it, so they are killed here too, by id.
    """
    workers = _descendants(server._process.pid)
    server.kill()
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_upload_session_survives_a_crash(fresh_dockyard: DockyardServer) -> None:
    data = random_layer(3000)
    repo = unique_repo()
    with httpx.Client(base_url=fresh_dockyard.url, timeout=30) as client:
        earlier = push_blob(client, repo, random_layer(50))
        location = path_and_query(start_upload(client, repo).headers["location"])
        assert patch_chunk(client, location, data[:1000], 0).status_code == 202
    crash(fresh_dockyard)
    fresh_dockyard.start()
    with httpx.Client(base_url=fresh_dockyard.url, timeout=30) as client:
        assert head_blob(client, repo, earlier) == 200
        status = client.get(location)
        assert status.status_code == 204
        assert status.headers["range"] == "0-999"
        assert patch_chunk(client, location, data[1000:], 1000).status_code == 202
        assert finish(client, location, sha256(data)).status_code == 201
        assert_blob(client, repo, data)
