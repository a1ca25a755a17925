"""The request edge: the one ASGI middleware outermost in the app, in front of every route.

Per request it does what four layers each did with their own wrappers of ``receive`` and
``send`` (a tag PUT spent ~8% of its in-process CPU passing messages through them):

- the client address, the request id (``X-Request-Id``) and the access log line (accesslog.py);
- the request metrics by route template (metrics.py);
- the body limit of the request's route family, the 413 and the lingering close (bodies.py);
- ``Docker-Distribution-API-Version`` on every registry response under /v2, the guard's 401s
  included (the hub API's paths under /v2 are not the registry's and do not get it).

It also answers a 500 (with its request id) when the app fails before answering, which is what
Starlette's ServerErrorMiddleware would do: ``EdgeStarlette`` leaves that layer out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dockyard.accesslog import REQUEST_ID_HEADER, AccessLog
from dockyard.bodies import (
    DRAIN_BYTES,
    DRAIN_SECONDS,
    BodyRule,
    BodyTooLarge,
    framing,
    may_have_body,
    rule_for,
    too_large,
)
from dockyard.metrics import RequestMetrics

API_VERSION = (b"docker-distribution-api-version", b"registry/2.0")


class Edge:
    def __init__(
        self,
        app: ASGIApp,
        *,
        log: AccessLog,
        metrics: RequestMetrics,
        rules: Sequence[BodyRule],
        api_paths: Callable[[str], bool],
    ) -> None:
        self.app = app
        self.log = log
        self.metrics = metrics
        self.rules = tuple(rules)
        self.api_paths = api_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = self.log.begin(scope)
        path = scope["path"]
        registry = path.startswith("/v2") and not self.api_paths(path)
        declared, chunked = framing(scope)
        method = scope["method"]
        rule = rule_for(self.rules, method, path) if may_have_body(method, declared, chunked) else None
        exchange = _Exchange(scope, receive, send, rule, declared, request_id.encode(), registry)
        try:
            await exchange.run(self.app)
        except Exception:
            await exchange.fail()  # the 500 carries the id too; the server logs the traceback
            raise
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.record(scope, exchange.status, exchange.length, exchange.received, elapsed)
            self.log.write(scope, exchange.status, exchange.sent, request_id, elapsed)


class _Exchange:
    """One request between the server and the app: its body accounting and what was answered.
    ``rule`` is None for a request without a body (nothing to limit or to drain)."""

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        rule: BodyRule | None,
        declared: int | None,
        request_id: bytes,
        registry: bool,
    ) -> None:
        self.scope, self._receive, self._send, self.rule = scope, receive, send, rule
        self.declared = declared  # the request's Content-Length, if it gave one
        self.request_id = request_id
        self.registry = registry
        self.received = 0
        self.body_done = rule is None  # the server said more_body=False, or the client left
        self.started = self.answered = self.refused = False
        self.status = 500  # what the client gets if the app fails before answering
        self.sent = 0
        self.length = 0  # the declared Content-Length of the answer

    async def run(self, app: ASGIApp) -> None:
        limit = self.rule.limit if self.rule is not None else None
        if limit is not None and self.declared is not None and self.declared > limit:
            await self._refuse()
        else:
            try:
                await app(self.scope, self.receive, self.send)
            except Exception:
                if not self.refused:
                    raise
                # The app's reaction to the body it was refused: the client already has its 413.
        if self.answered and not self.body_done:
            await self._linger()

    async def receive(self) -> Message:
        if self.refused:
            raise BodyTooLarge
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.body_done = not message.get("more_body", False)
            limit = self.rule.limit if self.rule is not None else None
            if limit is not None and self.received > limit:
                await self._refuse()
                raise BodyTooLarge
        elif message["type"] == "http.disconnect":
            self.body_done = True
        return message

    async def send(self, message: Message) -> None:
        """The app's messages; a refused request's are dropped (the client has its 413)."""
        if self.refused:
            return
        kind = message["type"]
        if kind == "http.response.start":
            await self._emit(message, (API_VERSION,) if self.registry else ())
            return
        if (kind == "http.response.body" and not message.get("more_body", False)) or kind == (
            "http.response.pathsend"
        ):
            self.answered = True
        await self._emit(message)

    async def _emit(self, message: Message, extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        """To the server, noting the status and the bytes; a start gets ``extra`` and the request
        id added to its headers (one copy of them)."""
        kind = message["type"]
        if kind == "http.response.start":
            self.started = True
            self.status = int(message["status"])
            headers = [*message.get("headers", ()), *extra, (REQUEST_ID_HEADER, self.request_id)]
            message = {**message, "headers": headers}
            self.length = _content_length(headers)
        elif kind == "http.response.body":
            self.sent += len(message.get("body", b""))
        elif kind == "http.response.pathsend":  # granian sends the file itself: its length is declared
            self.sent += self.length
        await self._send(message)

    async def fail(self) -> None:
        if self.started:
            return
        self.started = True
        await self._emit(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"21")],
            }
        )
        await self._emit({"type": "http.response.body", "body": b"Internal Server Error"})

    async def _refuse(self) -> None:
        self.refused = True
        if self.started:
            return  # too late for a 413: the app's answer was under way; it ends here
        self.answered = True
        assert self.rule is not None
        status, headers, body = too_large(self.rule.protocol, self.rule.limit or 0, self.scope["path"])
        await self._emit({"type": "http.response.start", "status": status, "headers": headers})
        await self._emit({"type": "http.response.body", "body": body})

    async def _linger(self) -> None:
        """Read and discard a bounded amount of the body the answer came before."""
        drained = 0
        with anyio.move_on_after(DRAIN_SECONDS):
            while not self.body_done and drained < DRAIN_BYTES:
                message = await self._receive()
                if message["type"] != "http.request":
                    return
                drained += len(message.get("body", b""))
                self.body_done = not message.get("more_body", False)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int:
    for key, value in headers:
        if key.lower() == b"content-length" and value.isdigit():
            return int(value)
    return 0


class EdgeStarlette(Starlette):
    """Starlette without its ServerErrorMiddleware: the edge, outermost, answers the 500 itself.
    The app's exception handlers (none for 500 or Exception) stay with ExceptionMiddleware."""

    def build_middleware_stack(self) -> ASGIApp:
        handlers: dict[Any, Any] = {
            key: value for key, value in self.exception_handlers.items() if key not in (500, Exception)
        }
        if len(handlers) != len(self.exception_handlers) or getattr(self, "max_body_size", None) is not None:
            return super().build_middleware_stack()  # a 500 handler or a body limit: Starlette's layers
        exceptions = Middleware(ExceptionMiddleware, handlers=handlers, debug=self.debug)
        middleware = [*self.user_middleware, exceptions]
        app: ASGIApp = self.router
        for cls, args, kwargs in reversed(middleware):
            app = cls(app, *args, **kwargs)
        return app
