"""Dockyard in this process: ``create_app(settings, services)`` on an event loop of its own, reached
through a streaming in-process transport instead of a socket.

    InProcessDockyard(data_dir, env=None, *, template=None, clock=None, log_path=None)
        .url .host .data_dir .env .settings .services .app .clock .log_path
        .start() .stop() .restart(), a context manager
        .client(**httpx_client_kwargs) -> httpx.Client     closed by stop()
        .http                                              one shared client: no credentials, no cookies
        .log_tail(chars)                                   what the app logged while it ran

It stands in for tests/conftest.py's ``DockyardServer`` wherever a test speaks HTTP to one server
(``tests.conftest.Server`` is what both offer). What is the same: the data folder (``dockyard
serve``'s checks and migrations run; a ``template`` database migrated once per session makes that
a file copy), the ``DOCKYARD_*`` settings (``env``), ``build_services`` and ``create_app`` as the
server builds them, the ASGI lifespan with its background tasks, and request and response bodies
that stream both ways. What only a real server shows stays in tests against ``dockyard serve``:
sockets and the HTTP parser (raw bytes, HEAD on the wire, dropped connections), granian's file
sends, worker processes, signals, crashes, the CLI's start-up messages and its stderr.

The app's event loop runs in a thread of its own (an anyio blocking portal), as a server's would:
tests stay synchronous, requests from several threads run concurrently. An exception that escapes
the app (a real server answers 500 and logs a traceback) fails the request that raised it, with the
app's traceback: ``UnhandledAppError``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import threading
import traceback
from collections.abc import AsyncIterator, Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar

import anyio
import anyio.from_thread
import anyio.to_thread
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from starlette.types import ASGIApp, Message, Scope

from dockyard import datadir
from dockyard.app import create_app
from dockyard.clock import Clock
from dockyard.config import BuildSettings, Settings
from dockyard.services import Services, build_services

# What the app sees as its host. Nothing listens there: a test that opens a real connection to it
# by mistake fails at once (the name does not resolve) instead of reaching another test's server.
IN_PROCESS_URL = "http://dockyard.test"
CLIENT_ADDRESS = ("127.0.0.1", 50000)
RESPONSE_BUFFER = 16  # ASGI messages the app may send ahead of the client reading them
SHUTDOWN_TIMEOUT = 30.0
BUILD_PREFIX = "DOCKYARD_BUILD_"


class UnhandledAppError(AssertionError):
    """An exception escaped the app during a request (a real server logs it and answers 500)."""


def settings_from_env(data_dir: Path, env: Mapping[str, str] | None) -> Settings:
    """The Settings that ``dockyard serve --data-dir DATA_DIR`` builds with ``env`` set."""
    values: dict[str, Any] = {}
    builds: dict[str, Any] = {}
    for name, value in (env or {}).items():
        assert name.startswith("DOCKYARD_"), f"not a Dockyard setting: {name}"
        if name.startswith(BUILD_PREFIX):
            builds[name.removeprefix(BUILD_PREFIX).lower()] = value
        else:
            values[name.removeprefix("DOCKYARD_").lower()] = value
    if builds:
        values["builds"] = BuildSettings(**builds)
    return Settings(**{**values, "data_dir": data_dir})


class InProcessDockyard:
    def __init__(
        self,
        data_dir: Path,
        env: Mapping[str, str] | None = None,
        *,
        template: Path | None = None,
        clock: Clock | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.env = dict(env or {})
        self.data_dir = Path(data_dir)
        self.url = IN_PROCESS_URL
        self.host = IN_PROCESS_URL.removeprefix("http://")
        self.template = template
        self.clock = clock
        self.log_path = log_path or self.data_dir.with_name(f"{self.data_dir.name}.log")
        self.settings = settings_from_env(self.data_dir, self.env)
        self._services: Services | None = None
        self._app: ASGIApp | None = None
        self._stack: contextlib.ExitStack | None = None
        self._portal: anyio.from_thread.BlockingPortal | None = None
        self._clients: list[httpx.Client] = []
        self._http: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"InProcessDockyard(data_dir={str(self.data_dir)!r})"

    @property
    def running(self) -> bool:
        return self._stack is not None

    @property
    def services(self) -> Services:
        assert self._services is not None, f"{self} is not running"
        return self._services

    @property
    def app(self) -> ASGIApp:
        assert self._app is not None, f"{self} is not running"
        return self._app

    def start(self) -> None:
        """Prepare the data folder as ``dockyard serve`` does, build the app, run its start-up."""
        assert not self.running, f"{self} is already running"
        if self.template is not None and not (self.data_dir / datadir.DATABASE).exists():
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copyfile(self.template, self.data_dir / datadir.DATABASE)
        with same_umask():
            datadir.prepare(self.settings, create=True)
        with contextlib.ExitStack() as stack:
            stack.enter_context(_log_to(self.log_path, self.settings.log_level))
            self._services = build_services(self.settings, clock=self.clock)
            stack.callback(self._services.close)
            self._app = create_app(self.settings, self._services)
            self._portal = stack.enter_context(anyio.from_thread.start_blocking_portal())
            stack.enter_context(self._portal.wrap_async_context_manager(_lifespan(self._app)))
            self._stack = stack.pop_all()

    def stop(self) -> None:
        """Close every client, run the app's shut-down, end its event loop."""
        assert self._stack is not None, f"{self} is not running"
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._http = None
        stack, self._stack, self._portal = self._stack, None, None
        stack.close()
        self._services = self._app = None

    def restart(self) -> None:
        """A new app and new services on the same data folder, as a server restart makes them."""
        self.stop()
        self.start()

    def __enter__(self) -> InProcessDockyard:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.running:
            self.stop()

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx.Client on this app (``base_url`` and ``timeout`` preset), closed by stop()."""
        assert self._portal is not None, f"{self} is not running"
        options: dict[str, Any] = {"base_url": self.url, "timeout": 30, **kwargs}
        client = httpx.Client(transport=PortalTransport(self._portal, self.app), **options)
        self._clients.append(client)
        return client

    @property
    def http(self) -> httpx.Client:
        """One shared client without credentials or cookies, for a request here and there."""
        if self._http is None:
            from tests.conftest import no_cookies

            self._http = self.client(cookies=no_cookies())
        return self._http

    def log_tail(self, chars: int = 8000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        return f"--- {self.log_path} (in process) ---\n{text[-chars:]}"


@contextlib.contextmanager
def same_umask() -> Iterator[None]:
    """The process's umask as it was: ``datadir.prepare`` sets 077 for the server process it runs
    in, which here is the whole test session. (So files the in-process app writes get the test
    process's modes; the modes themselves are tested against real servers, tests/security.)"""
    umask = os.umask(0o077)
    os.umask(umask)
    try:
        yield
    finally:
        os.umask(umask)


# ----------------------------------------------------------------------------------------------------
# The transport: one ASGI exchange per request, bodies streamed both ways
# ----------------------------------------------------------------------------------------------------


class PortalTransport(httpx.BaseTransport):
    """A synchronous httpx transport that runs the ASGI app on the portal's event loop.

    The app reads the request body as it wants it (each chunk pulled from the client's stream on a
    worker thread, so a generator body stays a stream and a body the app never reads is never
    sent), and the response body reaches the client message by message through a bounded buffer,
    so a streamed blob is never whole in memory. Closing a response early tells the app that the
    client went away (``http.disconnect``), as a dropped connection would."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, app: ASGIApp) -> None:
        self._portal = portal
        self._app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        exchange = self._portal.call(_Exchange.open, self._app, request)
        done = self._portal.start_task_soon(exchange.run)
        first = exchange.next_message(self._portal)
        if first is None or first["type"] != "http.response.start":
            self._portal.call(exchange.hang_up)
            self.finish(done, request)
            raise UnhandledAppError(f"{request.method} {request.url}: the app ended without an answer")
        headers = [(bytes(name), bytes(value)) for name, value in first.get("headers", [])]
        stream = _ResponseStream(self._portal, exchange, done, request)
        return httpx.Response(first["status"], headers=headers, stream=stream, request=request)

    @staticmethod
    def finish(done: Future[None], request: httpx.Request) -> None:
        """Wait for the app to return from the request; what it raised fails the request."""
        error = done.exception(timeout=SHUTDOWN_TIMEOUT)
        if error is not None:
            shown = "".join(traceback.format_exception(error))
            raise UnhandledAppError(
                f"{request.method} {request.url} raised past the app:\n{shown}"
            ) from error


class _Exchange:
    """One request/response between the client's thread and the app's event loop."""

    def __init__(self, app: ASGIApp, request: httpx.Request) -> None:
        self.app = app
        self.scope = _scope(request)
        self.body: Iterator[bytes] = iter(request.stream)  # type: ignore[arg-type]
        self.in_memory = isinstance(request.stream, httpx.ByteStream)
        self.body_done = False
        self.disconnected = anyio.Event()
        sender: MemoryObjectSendStream[Message]
        receiver: MemoryObjectReceiveStream[Message]
        sender, receiver = anyio.create_memory_object_stream[Message](RESPONSE_BUFFER)
        self.sender, self.receiver = sender, receiver

    @classmethod
    async def open(cls, app: ASGIApp, request: httpx.Request) -> _Exchange:
        return cls(app, request)  # made on the loop: its event and streams belong there

    async def run(self) -> None:
        async with self.sender:
            try:
                await self.app(self.scope, self._receive, self._send)
            finally:
                self.body_done = True

    async def _receive(self) -> Message:
        if self.body_done:
            await self.disconnected.wait()
            return {"type": "http.disconnect"}
        while True:
            # Bytes in memory are taken at once; a generator body may block, so a worker thread runs it.
            if self.in_memory:
                chunk = next(self.body, None)
            else:
                chunk = await anyio.to_thread.run_sync(next, self.body, None)
            if self.disconnected.is_set():
                return {"type": "http.disconnect"}
            if chunk is None:
                self.body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            if chunk:
                return {"type": "http.request", "body": bytes(chunk), "more_body": True}

    async def _send(self, message: Message) -> None:
        if self.disconnected.is_set():
            return  # the client went away: dropped, as uvicorn drops them
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await self.sender.send(message)

    def next_message(self, portal: anyio.from_thread.BlockingPortal) -> Message | None:
        """The app's next message, or None once it has finished."""
        try:
            return portal.call(self.receiver.receive)
        except anyio.EndOfStream:
            return None

    async def hang_up(self) -> None:
        self.disconnected.set()
        await self.receiver.aclose()


class _ResponseStream(httpx.SyncByteStream):
    def __init__(
        self,
        portal: anyio.from_thread.BlockingPortal,
        exchange: _Exchange,
        done: Future[None],
        request: httpx.Request,
    ) -> None:
        self.portal = portal
        self.exchange = exchange
        self.done = done
        self.request = request
        self.complete = False
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        while not self.complete:
            message = self.exchange.next_message(self.portal)
            if message is None:  # the app ended mid-body: what a client sees as a dropped connection
                self.complete = True
                raise httpx.RemoteProtocolError("the app ended the response before its last byte")
            if message["type"] != "http.response.body":
                continue
            self.complete = not message.get("more_body", False)
            if message.get("body"):
                yield bytes(message["body"])

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.portal.call(self.exchange.hang_up)
        PortalTransport.finish(self.done, self.request)


def _scope(request: httpx.Request) -> Scope:
    url = request.url
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "headers": [(name.lower(), value) for name, value in request.headers.raw],
        "scheme": url.scheme,
        "path": url.path,
        "raw_path": url.raw_path.split(b"?")[0],
        "query_string": url.query,
        "root_path": "",
        "server": (url.host, url.port or (443 if url.scheme == "https" else 80)),
        "client": CLIENT_ADDRESS,
        "state": {},
        "extensions": {},
    }


# ----------------------------------------------------------------------------------------------------
# Lifespan and logging
# ----------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """The ASGI lifespan protocol as a server speaks it: start-up before the first request,
    shut-down after the last; a failure either way raises here."""
    to_app, app_receives = anyio.create_memory_object_stream[Message](2)
    app_sends, from_app = anyio.create_memory_object_stream[Message](2)
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}

    async def run() -> None:
        async with app_sends, app_receives:
            await app(scope, app_receives.receive, app_sends.send)

    async with anyio.create_task_group() as tasks, to_app, from_app:
        tasks.start_soon(run)
        await to_app.send({"type": "lifespan.startup"})
        _expect(await from_app.receive(), "lifespan.startup.complete")
        yield
        await to_app.send({"type": "lifespan.shutdown"})
        with anyio.fail_after(SHUTDOWN_TIMEOUT):
            _expect(await from_app.receive(), "lifespan.shutdown.complete")


def _expect(message: Message, kind: str) -> None:
    assert message["type"] == kind, f"the app's lifespan answered {message} instead of {kind}"


class _Logging:
    """The ``dockyard`` logger's level while apps run: the lowest any running app asked for,
    back to what it was once the last one stopped."""

    lock = threading.Lock()
    levels: ClassVar[list[int]] = []
    original = logging.NOTSET


@contextlib.contextmanager
def _log_to(path: Path, level: str) -> Iterator[None]:
    """The app's log lines (``dockyard.*``, the access log among them) into ``path`` while it runs,
    as a server writes them to its stderr."""
    logger = logging.getLogger("dockyard")
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(name)s: %(message)s"))
    wanted = logging.getLevelName(level.upper())
    handler.setLevel(wanted)
    with _Logging.lock:
        if not _Logging.levels:
            _Logging.original = logger.level
        _Logging.levels.append(wanted)
        logger.setLevel(min(_Logging.levels))
        logger.addHandler(handler)
    try:
        yield
    finally:
        with _Logging.lock:
            logger.removeHandler(handler)
            _Logging.levels.remove(wanted)
            logger.setLevel(min(_Logging.levels) if _Logging.levels else _Logging.original)
        handler.close()


# ----------------------------------------------------------------------------------------------------
# The same app behind a real socket, served from a thread of this process
# ----------------------------------------------------------------------------------------------------


class ThreadedDockyard(InProcessDockyard):
    """``create_app`` as InProcessDockyard builds it, served by uvicorn (``dockyard serve --server
    uvicorn``'s server) from a thread of the test process on a real port of 127.0.0.1.

    For tests that speak HTTP to a URL (module-level ``httpx`` calls, a browser, a client binary)
    but need nothing of a server *process*: no PID, RSS, signals, kill, the CLI's start-up lines,
    or granian's own HTTP handling (body limits and slow clients at the socket stay against
    ``dockyard serve``). Starting it costs what building the app costs (~0.3 s), not a Python
    interpreter and two rounds of imports (~4.5 s of CPU per ``dockyard serve``)."""

    def __init__(self, data_dir: Path, env: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(data_dir, env, **kwargs)
        self.port = 0  # chosen by the first start, kept by restarts
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def __repr__(self) -> str:
        return f"ThreadedDockyard({self.url}, data_dir={str(self.data_dir)!r})"

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        import uvicorn

        assert not self.running, f"{self} is already running"
        if self.template is not None and not (self.data_dir / datadir.DATABASE).exists():
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copyfile(self.template, self.data_dir / datadir.DATABASE)
        with same_umask():
            datadir.prepare(self.settings, create=True)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart binds over TIME_WAIT
        listener.bind(("127.0.0.1", self.port))
        listener.listen(2048)
        self.port = listener.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        with contextlib.ExitStack() as stack:
            stack.callback(listener.close)
            stack.enter_context(_log_to(self.log_path, self.settings.log_level))
            stack.enter_context(_uvicorn_errors_to(self.log_path))
            self._services = build_services(self.settings, clock=self.clock)
            stack.callback(self._services.close)
            self._app = create_app(self.settings, self._services)
            config = uvicorn.Config(
                self._app,
                lifespan="on",
                log_config=None,
                log_level="warning",
                access_log=False,
                loop="asyncio",
            )
            server = uvicorn.Server(config)
            thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
            thread.start()
            while not server.started:
                if not thread.is_alive():
                    raise RuntimeError(f"{self} did not start\n{self.log_tail()}")
                thread.join(0.01)
            self._server, self._thread, self._socket = server, thread, listener
            self._stack = stack.pop_all()

    def stop(self) -> None:
        """Close every client, let uvicorn finish (the app's shut-down), close the socket."""
        assert self._thread is not None and self._stack is not None, f"{self} is not running"
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._http = None
        thread, self._thread = self._thread, None
        self._server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT)
        stack, self._stack = self._stack, None
        stack.close()
        self._services = self._app = self._server = self._socket = None
        assert not thread.is_alive(), f"{self} did not stop within {SHUTDOWN_TIMEOUT:.0f}s"

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx.Client on this server's socket (``base_url`` and ``timeout`` preset), closed by stop()."""
        assert self.running, f"{self} is not running"
        client = httpx.Client(**{"base_url": self.url, "timeout": 30, **kwargs})
        self._clients.append(client)
        return client


@contextlib.contextmanager
def _uvicorn_errors_to(path: Path) -> Iterator[None]:
    """What uvicorn logs (a traceback that escaped the app among it) into the server's log too, as
    ``dockyard serve --server uvicorn`` writes it to its stderr."""
    logger = logging.getLogger("uvicorn.error")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(name)s: %(message)s"))
    handler.setLevel(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
