"""The request edge (dockyard/edge.py): one layer that does the access log, the metrics, the body
limits and the registry's version header, and answers a 500 itself. Driven through plain ASGI
calls with a small app behind it, so each duty is seen on its own."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from dockyard.accesslog import AccessLog
from dockyard.bodies import body_rules
from dockyard.edge import API_VERSION, Edge, EdgeStarlette
from dockyard.metrics import Metrics, RequestMetrics
from dockyard.peers import TrustedProxies

pytestmark = pytest.mark.anyio

LIMIT = 100


async def answering(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body, then answers 200 with it."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def failing(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("boom")


def edge(app: Any, metrics: Metrics | None = None) -> Edge:
    def api(path: str) -> bool:
        return path.startswith("/v2/repositories/")

    return Edge(
        app,
        log=AccessLog(mode="plain", proxies=TrustedProxies([])),
        metrics=RequestMetrics(metrics or Metrics()),
        rules=body_rules(LIMIT, api),
        api_paths=api,
    )


async def call(
    app: Edge, method: str, path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[list[Message], int]:
    """The messages sent to the server, and how many body chunks the app (or the drain) read."""
    last = len(chunks) - 1
    pending = [{"type": "http.request", "body": c, "more_body": i < last} for i, c in enumerate(chunks)]
    read = 0

    async def receive() -> Message:
        nonlocal read
        if not pending:
            return {"type": "http.disconnect"}
        read += 1
        return pending.pop(0)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers or [],
        "client": ("127.0.0.1", 5),
    }
    with contextlib.suppress(RuntimeError):  # the failing app's error, after the edge answered
        await app(scope, receive, send)
    return sent, read


def header_values(message: Message, name: bytes) -> list[bytes]:
    return [value for key, value in message["headers"] if key == name]


async def test_a_registry_answer_has_the_version_header_and_a_request_id_once() -> None:
    sent, _ = await call(edge(answering), "PUT", "/v2/a/b/manifests/x", [b"{}"])
    start = sent[0]
    assert start["status"] == 200
    assert header_values(start, API_VERSION[0]) == [API_VERSION[1]]
    assert len(header_values(start, b"x-request-id")) == 1


async def test_the_hub_api_under_v2_and_the_pages_get_no_version_header() -> None:
    for path in ("/v2/repositories/alice/", "/u/alice"):
        sent, _ = await call(edge(answering), "GET", path, [b""])
        assert header_values(sent[0], API_VERSION[0]) == [], path
        assert len(header_values(sent[0], b"x-request-id")) == 1


async def test_a_declared_body_over_the_limit_is_refused_before_the_app_reads_it() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await answering(scope, receive, send)

    body = b"x" * (LIMIT + 1)
    headers = [(b"content-length", str(len(body)).encode())]
    sent, _ = await call(edge(app), "POST", "/v2/a/b/tags/list", [body], headers)
    assert seen == []
    assert sent[0]["status"] == 413
    assert header_values(sent[0], API_VERSION[0]) == [API_VERSION[1]]  # once, from the 413 itself
    assert b"SIZE_INVALID" in sent[1]["body"]


async def test_a_chunked_body_is_cut_at_the_limit_and_the_apps_answer_dropped() -> None:
    chunks = [b"x" * 60, b"x" * 60, b"x" * 10]
    headers = [(b"transfer-encoding", b"chunked")]
    sent, read = await call(edge(answering), "POST", "/u/alice/settings", chunks, headers)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 413
    assert read == 3  # the rest of the body was drained after the answer (lingering close)


async def test_an_app_that_fails_gets_a_500_with_its_request_id_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    with caplog.at_level(logging.INFO, logger="dockyard.access"):
        sent, _ = await call(edge(failing, metrics), "GET", "/v2/", [b""])
    assert sent[0]["status"] == 500
    request_id = header_values(sent[0], b"x-request-id")[0].decode()
    assert sent[1]["body"] == b"Internal Server Error"
    assert any(request_id in r.getMessage() and " 500 " in r.getMessage() for r in caplog.records)
    scraped = metrics.exposition().decode()
    assert 'dockyard_http_requests_total{method="GET",route="unmatched",status="500"} 1.0' in scraped


def test_the_app_has_no_second_error_layer_in_front_of_the_edge() -> None:
    app = EdgeStarlette(middleware=[])
    app.add_middleware(
        Edge,
        log=AccessLog(mode="off", proxies=TrustedProxies([])),
        metrics=RequestMetrics(Metrics()),
        rules=body_rules(LIMIT, lambda _: False),
        api_paths=lambda _: False,
    )
    assert isinstance(app.build_middleware_stack(), Edge)
