"""A lean HTTP/1.1 client on ``http.client`` with keep-alive and zero-copy uploads.

Uploads stream straight from a file on disk with ``socket.sendfile`` (``os.sendfile``), so pushing
256 MiB costs the client almost no CPU; responses of interest are small and read whole.
"""

from __future__ import annotations

import fcntl
import http.client
import os
import socket
import time
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import urlencode, urljoin, urlsplit

from .errors import WorkloadFailed

OCTET = "application/octet-stream"
IDLE_RECONNECT_SECONDS = 1.0


@dataclass
class Response:
    method: str
    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    request_headers: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def describe(self) -> str:
        """The exchange as text, for a failure report."""
        req = "\n".join(f"  > {k}: {v}" for k, v in self.request_headers.items())
        hdrs = "\n".join(f"  < {k}: {v}" for k, v in self.headers.items())
        body = self.body[:2000].decode("utf-8", "replace")
        return f"  > {self.method} {self.url}\n{req}\n  < HTTP {self.status}\n{hdrs}\n  < body: {body}"


class Client:
    """One keep-alive connection to ``base`` (``http://host:port``); not thread-safe."""

    def __init__(self, base: str, server: str, headers: dict[str, str] | None = None,
                 timeout: float = 300.0) -> None:
        parts = urlsplit(base)
        self.base = base.rstrip("/")
        self.server = server
        self.default_headers = dict(headers or {})
        self._conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                                timeout=timeout, blocksize=1 << 20)
        self._last_used = 0.0

    def _fresh(self) -> http.client.HTTPConnection:
        """The connection, reopened if it sat idle: servers close idle keep-alive connections."""
        now = time.monotonic()
        if now - self._last_used > IDLE_RECONNECT_SECONDS:
            self._conn.close()
        self._last_used = now
        return self._conn

    def close(self) -> None:
        self._conn.close()

    def path_of(self, location: str) -> str:
        """A Location header (absolute or relative) as a path plus query on this server."""
        url = urlsplit(urljoin(self.base + "/", location))
        return url.path + (f"?{url.query}" if url.query else "")

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Response:
        hdrs = {**self.default_headers, **(headers or {})}
        if body is not None or method in ("PUT", "POST", "PATCH"):
            hdrs.setdefault("Content-Length", str(len(body or b"")))
        self._fresh().request(method, path, body=body, headers=hdrs)
        return self._read(method, path, hdrs)

    def send_file(self, method: str, path: str, fileobj: BinaryIO, offset: int, count: int,
                  headers: dict[str, str] | None = None) -> Response:
        """Send ``count`` bytes of ``fileobj`` from ``offset`` as the body, with sendfile."""
        hdrs = {**self.default_headers, "Content-Type": OCTET, **(headers or {}),
                "Content-Length": str(count)}
        self._fresh().putrequest(method, path, skip_accept_encoding=True)
        for name, value in hdrs.items():
            self._conn.putheader(name, value)
        self._conn.endheaders()
        sock = self._conn.sock
        assert sock is not None
        sent = sock.sendfile(fileobj, offset, count)
        if sent != count:
            raise WorkloadFailed(self.server, f"{method} {path}", f"sent {sent} of {count} bytes")
        return self._read(method, path, hdrs)

    def stream_to(self, path: str, sink: object, headers: dict[str, str] | None = None,
                  bufsize: int = 4 << 20) -> Response:
        """GET ``path`` and feed the body, in pieces, to ``sink.update`` (e.g. a hashlib object)."""
        hdrs = {**self.default_headers, **(headers or {})}
        self._fresh().request("GET", path, headers=hdrs)
        resp = self._conn.getresponse()
        buf = bytearray(bufsize)
        view = memoryview(buf)
        update = sink.update  # type: ignore[attr-defined]
        total = 0
        if resp.status == 200:
            while n := resp.readinto(buf):
                update(view[:n])
                total += n
            body = b""
        else:
            body = resp.read()
        self._last_used = time.monotonic()
        out = Response("GET", self.base + path, resp.status,
                       {k.lower(): v for k, v in resp.getheaders()}, body, hdrs)
        out.headers["x-bench-bytes-read"] = str(total)
        return out

    def get_discard(self, path: str, headers: dict[str, str] | None = None) -> Response:
        """GET ``path`` on a fresh connection and splice the body into /dev/null (zero-copy).

        The cheapest way to drain a large body: the client spends about a third of a core per
        2 GB/s, where curl -o /dev/null spends over half. The response's ``x-bench-bytes-read``
        header holds the byte count. Needs a Content-Length, as registries send for blobs.
        """
        hdrs = {"Host": urlsplit(self.base).netloc, **self.default_headers, **(headers or {})}
        request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
        parts = urlsplit(self.base)
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80)) as sock:
            sock.sendall(request.encode())
            head = b""
            while b"\r\n\r\n" not in head:
                more = sock.recv(65536)
                if not more:
                    raise WorkloadFailed(self.server, f"GET {path}", f"closed in the headers: {head!r}")
                head += more
            raw, body = head.split(b"\r\n\r\n", 1)
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            resp_headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
            out = Response("GET", self.base + path, status, resp_headers, b"", hdrs)
            length = resp_headers.get("content-length")
            if length is None:
                raise WorkloadFailed(self.server, f"GET {path}", "no Content-Length\n" + out.describe())
            left = int(length) - len(body)
            if status != 200:
                while left > 0 and (more := sock.recv(left)):
                    body, left = body + more, left - len(more)
                out.body = body
                return out
            out.headers["x-bench-bytes-read"] = str(int(length) - _splice_to_null(sock, left))
        return out

    def _read(self, method: str, path: str, hdrs: dict[str, str]) -> Response:
        resp = self._conn.getresponse()
        body = resp.read()
        self._last_used = time.monotonic()
        return Response(method, self.base + path, resp.status,
                        {k.lower(): v for k, v in resp.getheaders()}, body, hdrs)


def expect(resp: Response, server: str, what: str, *statuses: int) -> Response:
    """Raise ``WorkloadFailed`` with the whole exchange unless the status is one of ``statuses``."""
    if resp.status not in statuses:
        raise WorkloadFailed(server, what, f"expected HTTP {'/'.join(map(str, statuses))}\n"
                             + resp.describe())
    return resp


def with_query(path: str, **params: str) -> str:
    sep = "&" if "?" in path else "?"
    return path + sep + urlencode(params)


def _splice_to_null(sock: socket.socket, count: int, piece: int = 1 << 20) -> int:
    """Move ``count`` bytes from ``sock`` to /dev/null through a pipe; returns the bytes not received."""
    rd, wr = os.pipe()
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        fcntl.fcntl(rd, fcntl.F_SETPIPE_SZ, piece)
        while count > 0:
            moved = os.splice(sock.fileno(), wr, min(count, piece))
            if moved == 0:
                break
            count -= moved
            while moved:
                moved -= os.splice(rd, null, moved)
    finally:
        for fd in (rd, wr, null):
            os.close(fd)
    return count
