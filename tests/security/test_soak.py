"""A soak test: random bad requests against a real server, its memory sampled (issue 9, item 5).

For ``DOCKYARD_SOAK_SECONDS`` (45 s in CI; the issue's full run is 600) a few clients send a
seeded random mix of what an attacker or a broken client sends, to every door: the registry
(malformed, deeply nested and oversized manifests, bad digests, PATCHes to made-up upload ids,
uploads with a wrong digest, broken chunked bodies, bad ranges, abandoned sessions), the JSON
API (bodies that are not JSON or over the limit, bad query parameters, unknown paths), the pages
(searches, forged forms), the token endpoint (garbage scopes, wrong and malformed credentials),
and the connection itself (huge headers, garbage request lines, bodies cut off half way, readers
that read a blob slowly and leave). Every second the server's resident memory (all its
processes) is sampled.

It defends against memory that grows with the requests an attacker sends (the upload-id locks
and the unbounded JSON bodies of issue 9 were two), against 5xx answers to bad input, and against
a server that stops answering under such load. The first fifth of the run is warm-up (imports,
caches, the allocator's arenas fill up); after it, memory may move within ``MAX_GROWTH_MB`` and
never pass ``MAX_PEAK_MB``. The summary line (start, after warm-up, end, peak, requests) is
printed for the README's record of the full run (``pytest -s``).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.access.helpers import World, request_token
from tests.conftest import DockyardServer
from tests.registry.helpers import OCI_MANIFEST, assert_no_unhandled_errors, push_blob, sha256
from tests.security.test_registry_memory import group_rss_mb

SECONDS = float(os.environ.get("DOCKYARD_SOAK_SECONDS", "45"))
CLIENTS = 3
WARM_UP = 0.2  # of the run
MAX_GROWTH_MB = 40  # after warm-up; a leak of the upload-lock kind grew ~25 MB a minute here
MAX_PEAK_MB = 400  # every process of the server together
REPOSITORY = "soaker/app"
BIG_BLOB = os.urandom(2 * 1024 * 1024)  # what the slow readers read
ENV = {
    "DOCKYARD_AUTH": "token",
    "DOCKYARD_TOKEN_TTL_SECONDS": str(24 * 3600),  # one token for the whole run
}


@dataclass
class Tally:
    """What the clients saw, shared between their threads."""

    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, what: str, response: httpx.Response) -> None:
        with self.lock:
            self.requests += 1
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                self.server_errors.append(f"{what}: {response.status_code} {response.text[:200]}")

    def failed(self, what: str) -> None:
        with self.lock:
            self.requests += 1
            self.dropped.append(what)

    def raw(self, what: str, status: int | None) -> None:
        with self.lock:
            self.requests += 1
            if status is not None and status >= 500:
                self.server_errors.append(f"{what}: {status} (raw)")


class Soak:
    """One client's random bad requests."""

    def __init__(self, server: DockyardServer, token: str, tally: Tally, seed: int) -> None:
        self.server, self.tally, self.rng = server, tally, random.Random(seed)
        self.client = httpx.Client(base_url=server.url, timeout=60)
        self.auth = {"Authorization": f"Bearer {token}"}
        self.actions: list[Callable[[], None]] = [
            self.bad_manifest,
            self.bad_digest,
            self.unknown_upload,
            self.wrong_digest_upload,
            self.bad_range,
            self.abandoned_upload,
            self.broken_chunked_upload,
            self.api_bad_body,
            self.api_bad_query,
            self.api_huge_body,
            self.page,
            self.forged_form,
            self.token_garbage,
            self.huge_headers,
            self.garbage_request_line,
            self.early_disconnect,
            self.slow_reader,
        ]

    def run_until(self, deadline: float) -> None:
        with self.client:
            while time.monotonic() < deadline:
                action = self.rng.choice(self.actions)
                try:
                    action()
                except httpx.HTTPError as exc:  # the server dropped a request it should have answered
                    self.tally.failed(f"{action.__name__}: {exc!r}")

    # -- helpers ---------------------------------------------------------------------------

    def request(self, method: str, path: str, *, auth: bool = True, **options: object) -> httpx.Response:
        headers = {**(self.auth if auth else {}), **options.pop("headers", {})}  # type: ignore[dict-item]
        response = self.client.request(method, path, headers=headers, **options)  # type: ignore[arg-type]
        self.tally.saw(f"{method} {path[:80]}", response)
        return response

    def junk(self, limit: int = 64, *, ascii: bool = False) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789:/._-@%?&=#" + (
            "" if ascii else "\u00e9\u4e2d\U0001f600 "
        )
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(0, limit)))

    def raw(self, what: str, payload: bytes, *, read: bool = True) -> None:
        """Send bytes on a socket of our own; read the status line if there is one."""
        status = None
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.server.port), 10) as s:
            s.settimeout(10)
            s.sendall(payload)
            if read:
                first = s.recv(64)
                if first.startswith(b"HTTP/1.1 ") and first[9:12].isdigit():
                    status = int(first[9:12])
        self.tally.raw(what, status)

    def start_upload(self) -> str | None:
        response = self.request("POST", f"/v2/{REPOSITORY}/blobs/uploads/")
        return response.headers.get("location") if response.status_code == 202 else None

    # -- the registry -----------------------------------------------------------------------

    def bad_manifest(self) -> None:
        depth = self.rng.choice([10, 1000, 50_000])
        bodies = [
            self.junk(200).encode(),
            b"[" * depth + b"]" * depth,
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": {
                        "mediaType": "x",
                        "digest": sha256(b"x"),
                        "size": 10 ** self.rng.randint(1, 40),
                    },
                    "layers": [{"digest": self.junk(80), "size": -1}] * self.rng.randint(0, 50),
                }
            ).encode(),
            os.urandom(self.rng.randint(1, 64 * 1024)),
        ]
        reference = self.rng.choice(["latest", self.junk(140), sha256(os.urandom(8)), "sha256:zz"])
        self.request(
            "PUT",
            f"/v2/{REPOSITORY}/manifests/{reference}",
            content=self.rng.choice(bodies),
            headers={
                "Content-Type": self.rng.choice([OCI_MANIFEST, "application/json", self.junk(30, ascii=True)])
            },
        )

    def bad_digest(self) -> None:
        digest = self.rng.choice(
            ["sha256:" + self.junk(64), "sha512:abc", "md5:" + "0" * 32, self.junk(300), sha256(b"nope")]
        )
        self.request(self.rng.choice(["GET", "HEAD", "DELETE"]), f"/v2/{REPOSITORY}/blobs/{digest}")

    def unknown_upload(self) -> None:
        upload = self.rng.choice([str(uuid.uuid4()), uuid.uuid4().hex * self.rng.randint(1, 300)])
        self.request(
            self.rng.choice(["PATCH", "PUT", "GET", "DELETE"]),
            f"/v2/{REPOSITORY}/blobs/uploads/{upload}",
            content=os.urandom(self.rng.randint(0, 4096)),
        )

    def wrong_digest_upload(self) -> None:
        body = os.urandom(self.rng.randint(1, 256 * 1024))
        self.request(
            "POST",
            f"/v2/{REPOSITORY}/blobs/uploads/?digest={sha256(b'not this')}",
            content=body,
            headers={"Content-Type": "application/octet-stream"},
        )

    def bad_range(self) -> None:
        location = self.start_upload()
        if location is None:
            return
        content_range = self.rng.choice(["5-2", "0-", "abc", f"0-{10**30}", "10-20"])
        self.request(
            "PATCH",
            location,
            content=os.urandom(16),
            headers={"Content-Range": content_range, "Content-Type": "application/octet-stream"},
        )
        self.request("DELETE", location)

    def abandoned_upload(self) -> None:
        """A session with some bytes, never finished (the janitor's, not the memory's)."""
        location = self.start_upload()
        if location is not None:
            self.request("PATCH", location, content=os.urandom(self.rng.randint(1, 64 * 1024)))

    def broken_chunked_upload(self) -> None:
        location = self.start_upload()
        if location is None:
            return
        path = httpx.URL(location).raw_path.decode() if "://" in location else location
        head = (
            f"PATCH {path} HTTP/1.1\r\nHost: {self.server.host}\r\n{_header(self.auth)}"
            "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode()
        tail = self.rng.choice([b"zz\r\nxx\r\n", b"4\r\nab", b"ffffffffffffffff\r\n", b"10\r\n" + b"a" * 16])
        self.raw("broken chunked PATCH", head + b"4\r\nabcd\r\n" + tail, read=self.rng.random() < 0.5)

    # -- the JSON API, the pages, the token endpoint -----------------------------------------

    def api_bad_body(self) -> None:
        path = self.rng.choice(
            ["/v2/users/login", "/v2/repositories/", "/v2/orgs/", "/v2/access-tokens", "/v2/auth/token"]
        )
        body = self.rng.choice([self.junk(300).encode(), b'{"username": 5}', b"[]", b"{" * 5000, b"null"])
        self.request("POST", path, content=body, headers={"Content-Type": "application/json"})

    def api_bad_query(self) -> None:
        value = self.rng.choice(["abc", "-5", str(2**70), self.junk(500), ""])
        path = self.rng.choice(
            [
                f"/v2/repositories/soaker/?page_size={value}",
                f"/v2/search/repositories?query={value}&page={value}",
                f"/v2/namespaces/soaker/repositories/app/tags?page={value}",
                f"/v2/orgs/{self.junk(40)}/members",
                f"/v2/repositories/{self.junk(30)}/{self.junk(30)}/",
            ]
        )
        self.request("GET", path, auth=self.rng.random() < 0.5)

    def api_huge_body(self) -> None:
        self.request(
            "POST",
            "/v2/users/login",
            content=b'{"username": "' + b"a" * (2 * 1024 * 1024) + b'"}',
            headers={"Content-Type": "application/json"},
            auth=False,
        )

    def page(self) -> None:
        path = self.rng.choice(
            ["/", "/explore?q=", "/search?q=", f"/u/{self.junk(40)}", f"/r/{self.junk(40)}", "/login"]
        )
        self.request("GET", path + (self.junk(100) if path.endswith("=") else ""), auth=False)

    def forged_form(self) -> None:
        form = {"username": self.junk(40), "password": self.junk(40), "csrf_token": self.junk(40)}
        path = self.rng.choice(["/login", "/signup", "/settings/password", "/repository/create", "/logout"])
        self.request("POST", path, data=form, auth=False)

    def token_garbage(self) -> None:
        scopes = [self.junk(100) for _ in range(self.rng.randint(0, 20))]
        auth = self.rng.choice([None, (f"ghost{self.rng.randint(0, 10**9)}", self.junk(40)), ("", "")])
        response = request_token(self.server, scopes, auth=auth, service=self.rng.choice(["dockyard", "x"]))
        self.tally.saw("GET /token", response)
        if self.rng.random() < 0.2:
            header = {"Authorization": "Basic " + self.junk(60, ascii=True)}
            self.request("GET", "/token?service=dockyard", headers=header, auth=False)

    # -- the connection ------------------------------------------------------------------------

    def huge_headers(self) -> None:
        big = self.rng.choice([b"X-Big: " + b"a" * 128 * 1024 + b"\r\n", b"X-Many: a\r\n" * 2000])
        self.raw("huge headers", b"GET /v2/ HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")

    def garbage_request_line(self) -> None:
        self.raw("garbage request", os.urandom(self.rng.randint(1, 2000)) + b"\r\n\r\n")

    def early_disconnect(self) -> None:
        path = self.rng.choice([f"/v2/{REPOSITORY}/blobs/uploads/", "/v2/users/login", "/token", "/login"])
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.server.host}\r\n{_header(self.auth)}"
            "Content-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n"
        ).encode()
        self.raw("early disconnect", head + os.urandom(10_000), read=False)

    def slow_reader(self) -> None:
        """Read a blob a few KiB at a time, then leave half way."""
        head = (
            f"GET /v2/{REPOSITORY}/blobs/{sha256(BIG_BLOB)} HTTP/1.1\r\nHost: {self.server.host}\r\n"
            f"{_header(self.auth)}\r\n"
        ).encode()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.server.port), 10) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(10)
            s.sendall(head)
            for _ in range(self.rng.randint(1, 10)):
                s.recv(4096)
                time.sleep(0.1)
        self.tally.raw("slow reader", None)


def _header(headers: dict[str, str]) -> str:
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items())


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs Linux /proc to measure memory")
    with DockyardServer(tmp_path / "data", env=ENV) as server, contextlib.closing(World(server)) as world:
        yield world


@pytest.mark.timeout(SECONDS + 300)  # the run itself, then set-up and the checks after it
def test_memory_stays_bounded_under_random_bad_requests(world: World) -> None:
    """Defends against memory growth, 5xx and a stuck server under a long mix of bad requests."""
    server = world.server
    assert server._process is not None
    world.create_user("soaker")
    token = world.token(f"repository:{REPOSITORY}:pull,push,delete", user="soaker")
    with world.client(token) as client:
        push_blob(client, REPOSITORY, BIG_BLOB)

    tally, samples = Tally(), [group_rss_mb(server._process.pid)]
    deadline = time.monotonic() + SECONDS
    soaks = [Soak(server, token, tally, seed) for seed in range(CLIENTS)]
    threads = [threading.Thread(target=soak.run_until, args=(deadline,)) for soak in soaks]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        time.sleep(1)
        samples.append(group_rss_mb(server._process.pid))
    for thread in threads:
        thread.join()

    warm = samples[max(1, int(len(samples) * WARM_UP))]
    start, end, peak = samples[0], samples[-1], max(samples)
    summary = (
        f"soak {SECONDS:.0f} s, {CLIENTS} clients, {tally.requests} requests: RSS start {start:.0f} MB, "
        f"after warm-up {warm:.0f} MB, end {end:.0f} MB, peak {peak:.0f} MB; "
        f"statuses {sorted(tally.statuses.items())}"
    )
    print(summary)
    assert not tally.server_errors, tally.server_errors[:20]
    assert not tally.dropped, tally.dropped[:20]
    assert end - warm < MAX_GROWTH_MB, summary
    assert peak < MAX_PEAK_MB, summary
    # Still serving, promptly: a push and a pull after the storm.
    with world.client(token) as client:
        assert client.get(f"/v2/{REPOSITORY}/blobs/{sha256(BIG_BLOB)}").content == BIG_BLOB
    assert_no_unhandled_errors(server)
