"""What the build-sandbox and outbound tests share: servers, sources an attacker controls, and
listeners that notice when something reaches them.

    sandbox_server(tmp, env)          a `dockyard serve` with its build worker and base image
    link_api(server, repo, url, ...)  PUT the link through the build API; the answer
    push_event(server, link, commit)  a signed GitHub push for `commit`: queues the build
    build_of(server, repo)            the newest build, once finished, and its log
    rewrite_source(server, repo, url) a link's stored URL changed behind the checks' back
    add_gitlink(source, path, url)    a submodule entry (.gitmodules + gitlink) without cloning it
    Listener()                        a TCP port that records every connection and answers a banner
    GitHttp(root)                     smart-HTTP git (git http-backend) that records Authorization
                                      headers and can answer every request with a redirect
    host_secret(tmp)                  a folder on the host with a file no build may show
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.server
import json
import os
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.builds.conftest import BUILD_ENV, GitSource, log_text, publish_base, wait_for
from tests.conftest import OPEN_REGISTRY, Cli, DockyardServer, require_tool

ENV = {**OPEN_REGISTRY, **BUILD_ENV}
BANNER = "-ERR dockyard-banner-7f3a not a git server"


@contextlib.contextmanager
def sandbox_server(
    data: Path, docker_cli: Cli, env: Mapping[str, str] | None = None
) -> Iterator[tuple[DockyardServer, str]]:
    """An open Dockyard running builds, and the base image published in it."""
    require_tool("git")
    with DockyardServer(data, env={**ENV, **(env or {})}) as server:
        yield server, publish_base(server, docker_cli)


def link_api(
    server: DockyardServer,
    repository: str,
    url: str,
    *,
    rules: list[dict[str, Any]] | None = None,
    credentials: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"source_url": url, "rules": rules or [{"source_name": "main"}]}
    if credentials:
        body["credentials"] = credentials
    response = httpx.put(
        f"{server.url}/api/build/repositories/{repository}/link", json=body, auth=auth, timeout=30
    )
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def push_event(made: Mapping[str, Any], commit: str, ref: str = "refs/heads/main") -> None:
    """What GitHub sends after a push, signed with the link's secret."""
    body = json.dumps({"ref": ref, "after": commit, "head_commit": {"id": commit, "message": "go"}}).encode()
    signature = "sha256=" + hmac.new(made["webhook_secret"].encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature}
    response = httpx.post(made["github_webhook"], content=body, headers=headers, timeout=30)
    assert response.status_code == 202, response.text


def build_of(
    server: DockyardServer, repository: str, count: int = 1, auth: tuple[str, str] | None = None
) -> tuple[dict[str, Any], str]:
    """The newest of `count` finished builds of the repository, and its whole log."""
    build = wait_for(server, repository, count, auth=auth)[-1]
    return build, log_text(server, build["id"], auth=auth)


def rewrite_source(server: DockyardServer, repository: str, url: str) -> None:
    """Store `url` as the link's source directly, as a link made before today's checks would be."""
    with contextlib.closing(sqlite3.connect(server.data_dir / "dockyard.db")) as db, db:
        db.execute("UPDATE build_links SET source_url = ? WHERE repository = ?", (url, repository))


def add_gitlink(source: GitSource, path: str, url: str, commit: str = "1" * 40) -> None:
    """Record a submodule at `path` fetched from `url`, as .gitmodules and a gitlink, unfetched."""
    gitmodules = source.clone / ".gitmodules"
    existing = gitmodules.read_text() if gitmodules.exists() else ""
    gitmodules.write_text(existing + f'[submodule "{path}"]\n\tpath = {path}\n\turl = {url}\n')
    source._run("update-index", "--add", "--cacheinfo", f"160000,{commit},{path}")
    (source.clone / path).mkdir(exist_ok=True)  # an empty folder: `git add -A` keeps the gitlink


def host_secret(tmp: Path) -> tuple[Path, str]:
    """A host folder holding `secret.txt` (and a Dockerfile copying it all, for the context attack)."""
    folder = tmp / f"host-only-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    secret = f"HOST-SECRET-{uuid.uuid4().hex.upper()}"  # as docker would quote it: upper case
    (folder / "secret.txt").write_text(secret + "\n")
    return folder, secret


# -- listeners ---------------------------------------------------------------------------------------


@dataclass
class Listener:
    """A TCP port on 127.0.0.1 that records what each connection sent, answering BANNER."""

    sock: socket.socket = field(default_factory=socket.socket)
    received: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:  # the banner at once, then whatever the client sends, for a second
                conn.settimeout(1)
                data = b""
                with contextlib.suppress(OSError):
                    conn.sendall(BANNER.encode() + b"\r\n\r\n")
                    while chunk := conn.recv(65536):
                        data += chunk
                self.received.append(data)

    def close(self) -> None:
        self.sock.close()


class GitHttp:
    """Smart-HTTP git over `git http-backend` for the bare repositories under `root`.

    Records the Authorization header of every request; with `redirect_to`, answers every request
    with a 302 to that URL instead (git must not follow it)."""

    def __init__(self, root: Path, redirect_to: str | None = None) -> None:
        self.root, self.redirect_to = root, redirect_to
        self.authorizations: list[str | None] = []
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                backend.handle(self)

            def do_POST(self) -> None:
                backend.handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, repository: Path) -> str:
        return f"http://127.0.0.1:{self.port}/{repository.relative_to(self.root)}"

    def handle(self, request: http.server.BaseHTTPRequestHandler) -> None:
        self.authorizations.append(request.headers.get("Authorization"))
        if self.redirect_to:
            request.send_response(302)
            request.send_header("Location", self.redirect_to + request.path)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        path, _, query = request.path.partition("?")
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": request.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "GIT_PROTOCOL": request.headers.get("Git-Protocol", ""),
            "REMOTE_ADDR": "127.0.0.1",
        }
        if request.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = request.headers["Content-Encoding"]
        done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode(errors="replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        request.send_response(status)
        for name, value in headers:
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def eventually_finished(server: DockyardServer, build_id: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = httpx.get(f"{server.url}/api/build/builds/{build_id}", timeout=10).json()
        if found["state"] in ("success", "failed", "canceled"):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.2)
