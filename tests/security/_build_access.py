"""What the build-access, body-limit and login-door tests share: the server's settings and memory,
a raw HTTP sender that behaves like Python's http.client, and the audit log.

    SERVER_ENV                                       token auth, builds from loopback git sources
    build_api(server) -> str                         the build API's base URL
    peak_rss(server) -> int                          the server process's peak RSS (VmHWM), bytes
    send_body(server, method, path, size, ...)       a body sent whole before the answer is read
    audit_events(server, kind) -> list[(actor, detail)]
"""

from __future__ import annotations

import contextlib
import http.client
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.builds.conftest import BUILD_ENV
from tests.conftest import DockyardServer

# Loopback git sources are private addresses: allowed here, as the tests set it.
SERVER_ENV = {
    **BUILD_ENV,
    "DOCKYARD_AUTH": "token",
    "DOCKYARD_BUILD_ALLOW_PRIVATE_SOURCES": "true",
    "DOCKYARD_WEBHOOK_ALLOW_PRIVATE": "true",
}
NO_WORKER = {"DOCKYARD_BUILD_EMBEDDED_WORKER": "false"}  # builds stay queued: nothing fetched


def build_api(server: DockyardServer) -> str:
    return f"{server.url}/api/build"


def server_pid(server: DockyardServer) -> int:
    """One worker (the default) serves inside the very process `dockyard serve` became."""
    process = server._process  # the tests' own handle on the process they started
    assert process is not None, f"{server} is not running"
    return process.pid


def peak_rss(server: DockyardServer) -> int:
    """The server's peak resident memory so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{server_pid(server)}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no answer could be read (a broken pipe, a reset)
    headers: dict[str, str]
    body: bytes
    sent: int  # body bytes the server took before it stopped reading
    error: str = ""

    def json(self) -> Any:
        return json.loads(self.body)


CHUNK = b"x" * (1024 * 1024)


def send_body(
    server: DockyardServer,
    method: str,
    path: str,
    size: int,
    *,
    headers: Mapping[str, str] | None = None,
    chunked: bool = False,
    timeout: float = 60,
) -> Answer:
    """Send ``size`` bytes of body before reading the answer, as http.client and requests do;
    with ``chunked`` no length is declared. Stops sending when the server stops reading."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    sent = 0
    try:
        connection.putrequest(method, path)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        framing = ("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(size))
        connection.putheader(*framing)
        connection.endheaders()
        while sent < size:
            piece = CHUNK[: min(len(CHUNK), size - sent)]
            connection.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
        if chunked:
            connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        body = response.read()
        found = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, found, body, sent)
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, {}, b"", sent, f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()


def audit_events(server: DockyardServer, kind: str) -> list[tuple[str | None, dict[str, Any]]]:
    """(actor, detail) of every audit event of ``kind``, oldest first, read from the database."""
    database = server.data_dir / "dockyard.db"
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as db:
        rows = db.execute("SELECT actor, detail FROM audit_events WHERE kind = ? ORDER BY id", (kind,))
        return [(actor, json.loads(detail)) for actor, detail in rows.fetchall()]
