"""Memory stays bounded under requests to upload sessions that do not exist (issue 9, item 5).

The server made a lock per upload id before it checked the id, and kept it: 4,000 PATCHes to
random ids (all 404) left ~100 MB behind for good, each lock keyed by an id as long as the
client liked. Ids are now checked (a canonical UUID whose session exists) before anything is
kept for them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import OPEN_REGISTRY, DockyardServer
from tests.registry.helpers import assert_error

REQUESTS = 2500
ID_BYTES = 16 * 1024  # what a client may put in the URL; the server kept every id it was sent
MAX_GROWTH_MB = 10  # measured: +34 MB before the fix, under +1 MB after


def group_rss_mb(pgid: int) -> float:
    """Resident memory of every process in the server's process group (workers included)."""
    total_kb = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DockyardServer]:
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs Linux /proc to measure memory")
    with DockyardServer(tmp_path / "data", env=OPEN_REGISTRY) as server:
        yield server


def patch_unknown(client: httpx.Client, count: int, id_bytes: int) -> None:
    for index in range(count):
        upload_id = uuid.uuid4().hex * (id_bytes // 32) if index % 8 else str(uuid.uuid4())
        response = client.patch(
            f"/v2/soak/memory/blobs/uploads/{upload_id}",
            content=b"x" * 16,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert_error(response, 404, "BLOB_UPLOAD_UNKNOWN")


def test_thousands_of_patches_to_unknown_upload_ids_leave_no_memory_behind(server: DockyardServer) -> None:
    """Defends against memory exhaustion by 404 PATCHes to made-up upload ids."""
    assert server._process is not None
    pgid = server._process.pid
    with httpx.Client(base_url=server.url, timeout=30) as client:
        patch_unknown(client, 300, ID_BYTES)  # warm up: imports, caches, allocator arenas
        before = group_rss_mb(pgid)
        patch_unknown(client, REQUESTS, ID_BYTES)
        after = group_rss_mb(pgid)
    assert after - before < MAX_GROWTH_MB, f"RSS grew from {before:.1f} MB to {after:.1f} MB"
