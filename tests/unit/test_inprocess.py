"""The in-process transport (tests/inprocess.py) behaves as a server would for what the suites rely
on: bodies stream both ways, a client that hangs up is seen by the app, an exception that escapes
the app fails the request, and the lifespan runs around the requests."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import anyio.from_thread
import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from tests.inprocess import PortalTransport, UnhandledAppError, _lifespan

pytestmark = pytest.mark.integration  # a small ASGI app on an event loop of its own


@pytest.fixture
def portal() -> Iterator[anyio.from_thread.BlockingPortal]:
    with anyio.from_thread.start_blocking_portal() as running:
        yield running


def client_for(portal: anyio.from_thread.BlockingPortal, app: object) -> httpx.Client:
    return httpx.Client(transport=PortalTransport(portal, app), base_url="http://app.test")  # type: ignore[arg-type]


async def start(send: Send, status: int = 200) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"x-app", b"yes")]})


def test_the_response_arrives_in_the_pieces_the_app_sent(portal: anyio.from_thread.BlockingPortal) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await start(send)
        for index in range(5):
            await send({"type": "http.response.body", "body": bytes([index]) * 1000, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    with client_for(portal, app) as client, client.stream("GET", "/") as response:
        pieces = list(response.iter_raw())
    assert response.status_code == 200 and response.headers["x-app"] == "yes"
    assert pieces == [bytes([index]) * 1000 for index in range(5)]


def test_the_app_pulls_the_request_body_as_it_reads_it(portal: anyio.from_thread.BlockingPortal) -> None:
    pulled: list[int] = []
    seen: list[tuple[int, int]] = []  # (chunks the app had, chunks pulled from the client by then)

    def body() -> Iterator[bytes]:
        for index in range(4):
            pulled.append(index)
            yield b"x" * 100

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        chunks = 0
        while True:
            message = await receive()
            chunks += bool(message.get("body"))
            seen.append((chunks, len(pulled)))
            if not message.get("more_body"):
                break
        await start(send)
        await send({"type": "http.response.body", "body": str(chunks).encode()})

    with client_for(portal, app) as client:
        response = client.post("/", content=body())
    assert response.text == "4"
    # Each chunk was taken from the client only when the app asked for it, not all up front.
    assert seen == [(1, 1), (2, 2), (3, 3), (4, 4), (4, 4)]


def test_a_client_that_closes_early_is_a_disconnect(portal: anyio.from_thread.BlockingPortal) -> None:
    disconnected = anyio.Event()
    received: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        received.append(await receive())  # the (empty) request body
        await start(send)
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        received.append(await receive())  # blocks until the client goes away
        disconnected.set()

    with client_for(portal, app) as client, client.stream("GET", "/") as response:
        assert next(response.iter_raw()) == b"first"
    assert received[-1] == {"type": "http.disconnect"}
    assert disconnected.is_set()


@pytest.mark.parametrize("when", ["before the answer", "after the answer"])
def test_an_exception_that_escapes_the_app_fails_the_request(
    portal: anyio.from_thread.BlockingPortal, when: str
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if when == "after the answer":  # as Starlette does: a 500 is sent, then the error re-raised
            await start(send, 500)
            await send({"type": "http.response.body", "body": b"Internal Server Error"})
        raise RuntimeError("boom in the app")

    with client_for(portal, app) as client, pytest.raises(UnhandledAppError, match="boom in the app"):
        client.get("/")


def test_the_lifespan_runs_around_the_requests(portal: anyio.from_thread.BlockingPortal) -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        events.append("request")
        await start(send)
        await send({"type": "http.response.body", "body": b""})

    with portal.wrap_async_context_manager(_lifespan(app)), client_for(portal, app) as client:  # type: ignore[arg-type]
        assert client.get("/").status_code == 200
    assert events == ["lifespan.startup", "request", "lifespan.shutdown"]
