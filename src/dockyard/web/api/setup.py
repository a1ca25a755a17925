"""Wiring: the hub API app and the dispatcher that puts it in front of the registry.

    request ──> ApiDispatch ──(an API route matches)──> FastAPI app (web/api/app.py)
                    │
                    └──(anything else)──> registry middleware (API version header, token guard) ──> routes

The registry's guard demands a registry token on every ``/v2/`` path; the hub API authenticates
with its own tokens, so its requests must not reach the guard. Rather than teach the guard a
list of exceptions, the dispatcher takes exactly the requests an API route matches before the
guard sees them: what the guard protects is unchanged, and a path the API does not own (say
``/v2/repositories/x/manifests/latest`` for a namespace named so) still goes through the guard.
A registry request pays a ``str.startswith`` and, under an API prefix, one regular expression.
Every path under ``/api/build/`` is the API's, routed or not: an unknown one (or a repository
name no route's pattern takes, such as one with a newline) gets the API's 404, not a page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from dockyard.web.api.app import build_api
from dockyard.web.api.deps import Context


def install(app: Starlette, context: Context) -> FastAPI:
    """Serve the hub API and ``docker search`` in front of ``app``'s routes."""
    api = build_api(context)
    app.add_middleware(ApiDispatch, api=api)  # outermost: the guard never sees API requests
    return api


class ApiDispatch:
    """Sends a request to the API app when the path is one of its routes' (any method: a wrong one
    gets the API's 405), everything else down the stack.

    The test is one regular expression made of every route's path, behind a ``startswith`` on
    their constant prefixes: 1 to 3 us for a registry request, where asking each route (as
    Starlette's router does) cost 170 us on a path that shares a prefix, such as ``/v2/username/``.
    """

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self.owns = api_paths(api)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.owns(scope["path"]):
            await self.api(scope, receive, send)
            return
        await self.app(scope, receive, send)


WHOLLY_OWNED = ("/api/build/",)


def api_paths(api: FastAPI) -> Callable[[str], bool]:
    """Whether a path is one of the API's routes' (the dispatcher's test; the body limits use it
    too, to answer the API's requests in the API's error format)."""
    paths = sorted(set(_route_paths(list(api.router.routes))))
    prefixes = tuple(sorted({path.split("{", 1)[0] for path in paths}))
    pattern = re.compile("|".join(f"(?:{_anonymous(compile_path(path)[0].pattern)})" for path in paths))

    def owns(path: str) -> bool:
        if path.startswith(WHOLLY_OWNED):
            return True
        return path.startswith(prefixes) and pattern.match(path) is not None

    return owns


def _route_paths(routes: list[BaseRoute], prefix: str = "") -> Iterator[str]:
    """Every route's full path; routers included into the app (FastAPI's ``include_router``) are
    walked. A route whose paths cannot be seen is an error at start-up, not a silent miss."""
    for route in routes:
        path = getattr(route, "path", None)
        included = getattr(route, "original_router", None)
        if isinstance(path, str):
            yield prefix + path
        elif included is not None:
            context = getattr(route, "include_context", None)
            yield from _route_paths(included.routes, prefix + getattr(context, "prefix", ""))
        else:
            raise TypeError(f"cannot tell which paths {route!r} serves")


def _anonymous(pattern: str) -> str:
    """A route's regular expression without group names, so many can share one alternation."""
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)
