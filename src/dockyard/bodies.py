"""Request bodies limited while they are read, on every endpoint, and a lingering close.

The rules are applied by the request edge (edge.py), outermost in the app, in front of every route
(registry, token server, hub API with the build API, pages). Each request is matched once against a
table of route families, first match wins::

    /v2/<name>/blobs/uploads...        unlimited: layers stream to storage in constant memory
    PUT /v2/<name>/manifests/<ref>     the registry's own limit (max_manifest_bytes, MANIFEST_INVALID)
    /api/build/hooks/...               5 MiB (push events)   {"message", ...}         (the API's)
    the hub API's (/v2, /v1, /api/build) max_body_bytes      {"message", ...}         (the API's)
    /v2/... (the registry)             max_body_bytes        {"errors": [...]}        (the spec's)
    /token                             64 KiB                {"errors": [...]}
    everything else (the pages)        max_body_bytes        a small HTML page

A body whose Content-Length is over the limit is answered 413 before a byte of it is read; one
without (chunked) is counted as the app reads it, and the moment it passes the limit the client
gets the 413, the app's read fails (``BodyTooLarge``) and whatever the app answers to that is
dropped. So no handler, FastAPI's body parsing included, ever holds more than the limit.

Lingering close: when the answer comes before the body was read (a 401 from the guard, a 404 for
an unknown hook or upload, a 413), clients that send the whole body before reading (Python's
http.client, requests) would meet a closed socket, get a broken pipe and never see the answer.
So after such an answer up to ``DRAIN_BYTES`` more of the body are read and thrown away, for at
most ``DRAIN_SECONDS``, before the connection is let go: as Apache's and nginx's lingering close.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from starlette.types import Scope

Protocol = Literal["registry", "api", "page"]
MIB = 1024 * 1024
TOKEN_BODY_BYTES = 64 * 1024
HOOK_BODY_BYTES = 5 * MIB  # GitHub's push events are far smaller (a few KiB per commit)
DRAIN_BYTES = 64 * MIB
DRAIN_SECONDS = 10.0
NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REGISTRY_HEADERS = [(b"docker-distribution-api-version", b"registry/2.0")]


class BodyTooLarge(Exception):
    """Raised from ``receive`` in the app once its request's body passed the limit."""


@dataclass(frozen=True, slots=True)
class BodyRule:
    """A family of routes: which requests it covers, their limit (None: no limit here), and the
    error format of their protocol."""

    covers: Callable[[str, str], bool]  # (method, path)
    limit: int | None
    protocol: Protocol


UPLOAD = re.compile(r"^/v2/.+/blobs/uploads(/|$)")
MANIFEST = re.compile(r"^/v2/.+/manifests/[^/]+$")


def body_rules(max_body_bytes: int, api_paths: Callable[[str], bool]) -> list[BodyRule]:
    """Dockyard's route families, in order (see the module's table)."""
    return [
        BodyRule(lambda _, path: UPLOAD.match(path) is not None, None, "registry"),
        BodyRule(lambda method, path: method == "PUT" and MANIFEST.match(path) is not None, None, "registry"),
        BodyRule(lambda _, path: path.startswith("/api/build/hooks/"), HOOK_BODY_BYTES, "api"),
        BodyRule(lambda _, path: api_paths(path), max_body_bytes, "api"),
        BodyRule(lambda _, path: path.startswith("/v2"), max_body_bytes, "registry"),
        BodyRule(lambda _, path: path == "/token", TOKEN_BODY_BYTES, "registry"),
        BodyRule(lambda _, path: True, max_body_bytes, "page"),
    ]


def rule_for(rules: Sequence[BodyRule], method: str, path: str) -> BodyRule:
    """The first rule that covers the request (the last covers everything)."""
    return next(r for r in rules if r.covers(method, path))


def may_have_body(method: str, declared: int | None, chunked: bool) -> bool:
    """From the request's method and its ``framing``."""
    if declared is not None:
        return declared > 0
    return chunked or method not in NO_BODY_METHODS


def framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared Content-Length (None if absent or unreadable) and whether the body is chunked."""
    length, chunked = None, False
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and len(value) < 20:
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    return length, chunked


def too_large(protocol: Protocol, limit: int, path: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The 413 answer, in the protocol's own error format."""
    message = f"the request body is larger than the {limit} bytes this endpoint accepts"
    headers: list[tuple[bytes, bytes]] = [(b"connection", b"close")]
    if protocol == "page":
        page = (
            "<!doctype html><html lang=en><meta charset=utf-8><title>Request too large · Dockyard</title>"
            f"<h1>Request too large</h1><p>{message}.</p></html>"
        )
        return 413, [*headers, (b"content-type", b"text/html; charset=utf-8")], page.encode()
    if protocol == "registry":
        entry = {"code": "SIZE_INVALID", "message": message, "detail": {"limit": limit}}
        document: object = {"errors": [entry]}
        if path.startswith("/v2"):
            headers += REGISTRY_HEADERS
    else:  # the hub API's shape (web/api/errors.py)
        document = {"message": message, "errinfo": {"limit": str(limit)}, "detail": message}
    return 413, [*headers, (b"content-type", b"application/json")], json.dumps(document).encode()
