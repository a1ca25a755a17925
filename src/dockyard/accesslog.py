"""The access log: the client address, a request id, and one line per request (run by the
request edge, edge.py, the outermost layer of every request).

One line per request on the ``dockyard.access`` logger (the server process writes it to stderr),
``DOCKYARD_ACCESS_LOG=plain`` (the default)::

    2026-11-28T16:50:01.123Z 203.0.113.9 alice GET /v2/library/redis/manifests/7 200 1234B 3.2ms \
        /v2/{name:path}/manifests/{reference} 5f2c9a1be0d34c7a          (one line)

(``-`` for an anonymous user or a request no route matched), or ``json``, one object per line
with the same fields (time, client, user, method, path, status, bytes, duration_ms, route,
request_id), or ``off``. ``user`` is the account the request authenticated as, noted by whoever
authenticated it (the registry's guard, the web session, the JSON API's bearer) with
``note_user``; ``route`` is the matched route's template. Every response carries the id as
``X-Request-Id``, so a user's report can be matched to its line.

What is never written: query strings (``/token?...`` may carry credentials in a misconfigured
client, search terms are the user's business), headers (Authorization, cookies), bodies, and path
segments that are secrets: a request whose route has a ``token`` or ``secret`` parameter (the
build trigger URL) is logged with the route's template instead of its path. Paths are logged
percent-encoded as sent, with anything unprintable escaped, so a path cannot forge log lines.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.types import Scope

from dockyard.peers import TrustedProxies

log = logging.getLogger("dockyard.access")

REQUEST_ID_HEADER = b"x-request-id"
USER_KEY = "access_log_user"
SECRET_PARAMS = frozenset({"token", "secret"})
_INCOMING_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
# Ids correlate log lines and grant nothing: a PRNG serves, without a syscall each. Its own
# instance (the module's is the application's to seed), reseeded from the OS in a forked worker.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)
_UNPRINTABLE = re.compile(r"[^\x21-\x7e]")

Mode = Literal["off", "plain", "json"]


def note_user(scope: Scope, username: str | None) -> None:
    """Name the account a request authenticated as, for its access log line."""
    if username:
        scope.setdefault("state", {})[USER_KEY] = username


class AccessLog:
    """The access log's half of the request edge (edge.py): who the client is, the request id, and
    the line. ``proxies`` decides when X-Forwarded-For names the client."""

    def __init__(self, *, mode: Mode, proxies: TrustedProxies) -> None:
        self.mode = mode
        self.proxies = proxies

    def begin(self, scope: Scope) -> str:
        """Resolve the client into ``scope["client"]`` and give the request its id."""
        peer = self._resolve_client(scope)
        request_id = self._request_id(scope, peer)
        scope.setdefault("state", {})["request_id"] = request_id
        return request_id

    def _resolve_client(self, scope: Scope) -> str | None:
        """Put the client's address into ``scope["client"]``; returns the TCP peer's."""
        client = scope.get("client")
        peer = str(client[0]) if client else None
        forwarded = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"]
        if forwarded:
            resolved = self.proxies.client(peer, forwarded)
            if resolved != peer:
                scope["client"] = (resolved, 0)
        return peer

    def _request_id(self, scope: Scope, peer: str | None) -> str:
        """A trusted proxy's id is kept (one id across the whole path); anyone else's is not."""
        for key, value in scope.get("headers", ()):
            if key == REQUEST_ID_HEADER and _INCOMING_ID.fullmatch(value) and self.proxies.trusts(peer):
                return bytes(value).decode()
        return f"{_ids.getrandbits(64):016x}"

    def write(self, scope: Scope, status: int, sent: int, request_id: str, seconds: float) -> None:
        if self.mode == "off":
            return
        client = scope.get("client")
        template = getattr(scope.get("route"), "path", None)
        fields: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "client": str(client[0]) if client else "-",
            "user": (scope.get("state") or {}).get(USER_KEY) or "-",
            "method": scope["method"],
            "path": _path(scope),
            "status": status,
            "bytes": sent,
            "duration_ms": round(seconds * 1000, 1),
            "route": _printable(template) if isinstance(template, str) and template else "-",
            "request_id": request_id,
        }
        if self.mode == "json":
            log.info(json.dumps(fields, separators=(",", ":")))
            return
        log.info(
            "%s %s %s %s %s %d %dB %.1fms %s %s",
            fields["time"],
            fields["client"],
            fields["user"],
            fields["method"],
            fields["path"],
            fields["status"],
            fields["bytes"],
            fields["duration_ms"],
            fields["route"],
            request_id,
        )


def _path(scope: Scope) -> str:
    """The path as sent (no query string), or the route's template when the path holds a secret."""
    route = scope.get("route")
    params = scope.get("path_params") or {}
    template = getattr(route, "path", None)
    if isinstance(template, str) and SECRET_PARAMS & params.keys():
        return template
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else scope.get("path", "")
    return _printable(path.partition("?")[0]) or "/"


def _printable(text: str) -> str:
    return _UNPRINTABLE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), text)
