"""Issue 13, item 3: the first pull of an uncached blob streams while it is stored, concurrent pulls
of it fetch it from upstream once, and a client that goes away leaves nothing in the cache.

The upstream is a small counting registry on loopback (upstreams.CountingRegistry) that sends
a 64 MiB blob (as the issue asks) at about 9 MiB per 100 ms, so the clients overlap and the first
bytes arrive long before the last ones leave the upstream. Memory stays constant: the upstream
makes the blob a MiB at a time as it sends it, and the clients hash what they receive.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import OPEN_REGISTRY, DockyardServer
from tests.proxy.conftest import PROXY_ENV, dockyard_cli
from tests.proxy.upstreams import MIB, CountingRegistry, GeneratedBlob

pytestmark = pytest.mark.e2e  # a real `dockyard serve`, its CLI and HTTP clients
BLOB_SIZE = 64 * MIB
DELAY_PER_MIB = 0.011  # ~0.7 s for the whole blob: long enough to overlap, short enough for CI


@pytest.fixture(scope="module")
def upstream() -> Iterator[CountingRegistry]:
    """One upstream with a blob per test."""
    registry = CountingRegistry([GeneratedBlob(BLOB_SIZE) for _ in range(2)], DELAY_PER_MIB)
    yield registry
    registry.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, upstream: CountingRegistry) -> Iterator[DockyardServer]:
    """Dockyard (an open registry) with the proxy namespace ``up``, added before any pull."""
    data = tmp_path_factory.mktemp("proxy-flight") / "data"
    with DockyardServer(data, env={**OPEN_REGISTRY, **PROXY_ENV}) as running:
        dockyard_cli(running, "proxy", "add", "up", upstream.url)
        yield running


def _blob_file(server: DockyardServer, digest: str) -> Path:
    hex_ = digest.split(":", 1)[1]
    return server.data_dir / "storage" / "blobs" / "sha256" / hex_[:2] / hex_ / "data"


def _stored_size(server: DockyardServer, digest: str) -> int:
    """The cached blob's size, once committed (clients have every byte a moment before)."""
    deadline = time.monotonic() + 15
    while not _blob_file(server, digest).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return _blob_file(server, digest).stat().st_size


Pulled = tuple[int, int, str, bool]  # status, size, digest, whether the upstream was still sending


def _pull(url: str, results: list[Pulled], finished: dict[str, int] | None = None) -> None:
    streaming: bool | None = None
    digest = hashlib.sha256()
    size = 0
    with httpx.stream("GET", url, timeout=60) as response:
        for chunk in response.iter_raw():
            if streaming is None:
                streaming = finished is not None and not any(finished.values())
            digest.update(chunk)
            size += len(chunk)
    results.append((response.status_code, size, "sha256:" + digest.hexdigest(), bool(streaming)))


def test_eight_concurrent_pulls_fetch_the_blob_upstream_once(
    server: DockyardServer, upstream: CountingRegistry
) -> None:
    registry, digest = upstream, upstream.digests[0]
    url = f"{server.url}/v2/up/some/image/blobs/{digest}"
    results: list[Pulled] = []
    threads = [threading.Thread(target=_pull, args=(url, results, registry.finished)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [r[:3] for r in results] == [(200, BLOB_SIZE, digest)] * 8
    assert registry.gets[digest] == 1, f"{registry.gets[digest]} upstream GETs for 8 concurrent pulls"
    # Streamed, not stored first: bytes reached clients while the upstream was still sending.
    assert any(r[3] for r in results)
    assert _stored_size(server, digest) == BLOB_SIZE
    again: list[Pulled] = []
    _pull(url, again)  # cached now: served without the upstream
    assert again[0][:3] == (200, BLOB_SIZE, digest) and registry.gets[digest] == 1


def test_a_client_gone_halfway_leaves_no_blob_and_the_next_pull_succeeds(
    server: DockyardServer, upstream: CountingRegistry
) -> None:
    registry, digest = upstream, upstream.digests[1]
    path = f"/v2/up/other/image/blobs/{digest}"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as client:
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: {server.host}\r\n\r\n".encode())
        received = 0
        while received < 4 * MIB:
            received += len(client.recv(MIB))
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    spool = server.data_dir / "storage" / "proxy-spool"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (any(spool.iterdir()) if spool.is_dir() else False):
        time.sleep(0.1)
    assert not spool.is_dir() or not any(spool.iterdir()), "the spool of the abandoned download stayed"
    time.sleep(BLOB_SIZE / MIB * DELAY_PER_MIB)  # past when the download would have ended
    assert not _blob_file(server, digest).exists(), "a blob nobody received whole was cached"
    assert registry.finished[digest] == 0, "the abandoned download went on to the end"
    results: list[Pulled] = []
    _pull(f"{server.url}{path}", results)
    assert results[0][:3] == (200, BLOB_SIZE, digest)
    assert _stored_size(server, digest) == BLOB_SIZE
