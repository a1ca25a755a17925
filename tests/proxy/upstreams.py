"""Upstream registries for the proxy tests, on loopback: Debian's ``docker-registry``
(distribution 2.8.2), and a tiny counting registry that serves one blob slowly.

    Distribution(workdir)            .url .host .start() .stop(), a context manager
    CountingRegistry(blobs, delay)   .url .digests .gets[digest] .finished[digest] .requests .close()
                                     blobs: bytes, or GeneratedBlob(size) for large ones (made a MiB
                                     at a time as they are sent, never held whole)
                                     .manifests[reference] = (media type, bytes, announced digest)
                                     .lie[digest] = other bytes to send for that blob
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import subprocess
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.conftest import free_port, require_tool

DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


class Distribution:
    """One `docker-registry serve` on a port of its own, with its data below ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require_tool("docker-registry")
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "config.yml"
        self.config.write_text(DISTRIBUTION_CONFIG.format(root=workdir / "data", port=self.port))
        self.log = workdir / "registry.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "serve", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self._process.poll() is None, self.log.read_text()
            try:
                httpx.get(f"{self.url}/v2/", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"docker-registry on {self.port} did not start")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=20)
            self._process = None

    def __enter__(self) -> Distribution:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


MIB = 1024 * 1024


class GeneratedBlob:
    """``size`` pseudo-random bytes made on demand, one MiB at a time from a seed: a large blob an
    upstream sends without holding it in memory. Sliced only as the registry below sends it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.seed = os.urandom(16)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, part: slice) -> bytes:
        start = part.start or 0
        assert start % MIB == 0 and part.stop - start == MIB, "sliced a MiB at a time, on MiB boundaries"
        generator = random.Random(self.seed + (start // MIB).to_bytes(8, "big"))
        return generator.randbytes(min(MIB, self.size - start))

    def digest(self) -> str:
        hashed = hashlib.sha256()
        for start in range(0, self.size, MIB):
            hashed.update(self[start : start + MIB])
        return "sha256:" + hashed.hexdigest()


def _digest(blob: bytes | GeneratedBlob) -> str:
    if isinstance(blob, GeneratedBlob):
        return blob.digest()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


class CountingRegistry:
    """Answers /v2/ and serves its blobs under any repository, ``delay`` seconds per MiB,
    counting the GETs of each (what single flight must keep at one)."""

    def __init__(self, blobs: Sequence[bytes | GeneratedBlob], delay: float = 0.0) -> None:
        self.blobs = {_digest(blob): blob for blob in blobs}
        self.digests = list(self.blobs)
        self.delay = delay
        self.gets = dict.fromkeys(self.blobs, 0)
        self.finished = dict.fromkeys(self.blobs, 0)  # GETs whose body went out whole
        self.requests: list[str] = []  # "METHOD path" of every request
        self.manifests: dict[str, tuple[str, bytes, str]] = {}
        self.lie: dict[str, bytes | GeneratedBlob] = {}
        self.redirects: dict[str, str] = {}  # digest -> where a GET of that blob is redirected
        self.headers: dict[str, str] = {}  # sent with every manifest (e.g. Docker Hub's RateLimit-*)
        self.fail = 0  # a status to answer every request under /v2/<name>/ with (0: none)
        # Docker token auth: with a login set, /v2/<name>/ wants "Bearer <token>", which
        # GET /token gives for that login as Basic; ``realm`` overrides the realm announced.
        self.login: tuple[str, str] | None = None
        self.realm = ""
        self.token = "t-" + os.urandom(8).hex()
        lock = threading.Lock()
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _authorized(self) -> bool:
                if self.path.startswith("/token"):
                    user, password = registry.login or ("", "")
                    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
                    ok = self.headers.get("Authorization") == f"Basic {basic}"
                    body = json.dumps({"token": registry.token}).encode() if ok else b""
                    self.send_response(200 if ok else 401)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return False
                if self.path == "/v2/" or self.headers.get("Authorization") == f"Bearer {registry.token}":
                    return True
                realm = registry.realm or f"{registry.url}/token"
                self.send_response(401)
                self.send_header("WWW-Authenticate", f'Bearer realm="{realm}",service="counting"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                registry.requests.append(f"{self.command} {self.path}")
                if registry.login is not None and not self._authorized():
                    return
                if registry.fail and self.path != "/v2/":
                    self.send_response(registry.fail)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                reference = self.path.rpartition("/manifests/")[2]
                if "/manifests/" in self.path and reference in registry.manifests:
                    media_type, content, digest = registry.manifests[reference]
                    time.sleep(registry.delay)  # slow upstreams make concurrent pulls overlap
                    self.send_response(200)
                    self.send_header("Content-Type", media_type)
                    self.send_header("Content-Length", str(len(content)))
                    self.send_header("Docker-Content-Digest", digest)
                    for name, value in registry.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if body:
                        self.wfile.write(content)
                    return
                if self.path == "/v2/":
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                digest = self.path.rpartition("/blobs/")[2]
                if digest in registry.redirects:
                    self.send_response(307)
                    self.send_header("Location", registry.redirects[digest])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                blob = registry.lie.get(digest, registry.blobs.get(digest))
                if blob is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(blob)))
                self.send_header("Docker-Content-Digest", digest)
                self.end_headers()
                if not body:
                    return
                with lock:
                    registry.gets[digest] += 1
                step = MIB
                try:
                    for start in range(0, len(blob), step):
                        self.wfile.write(blob[start : start + step])
                        time.sleep(registry.delay)
                except OSError:
                    return
                with lock:
                    registry.finished[digest] += 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
