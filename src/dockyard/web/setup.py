"""Wiring of the hub core and the pages into the app, in one call from create_app:

    install(app, settings, database, accounts, registry, secrets) -> HubService

builds the HubService (which the JSON API takes too), subscribes the activity recorder to the
registry's events and flushes it in the app's lifespan (with a sweep of expired sessions), adds
the page routes and /static, and renders HTML error pages for browsers outside /v2 and /v1.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from dockyard.accounts.service import AccountService
from dockyard.config import Settings
from dockyard.db.engine import Database
from dockyard.hub.activity import ActivityStore
from dockyard.hub.service import HubService
from dockyard.hub.stats import ActivityRecorder
from dockyard.registry.service import Registry
from dockyard.secretbox import SecretBox
from dockyard.web.context import WebApp, error_page, load, not_found
from dockyard.web.login import password_login
from dockyard.web.routes import page_routes
from dockyard.web.sessions import SessionStore
from dockyard.web.templating import environment

log = logging.getLogger(__name__)

SESSION_SWEEP_SECONDS = 3600.0
MACHINE_PREFIXES = ("/v2", "/v1", "/token", "/api/", "/openapi")


def install(
    app: Starlette,
    settings: Settings,
    database: Database,
    accounts: AccountService,
    registry: Registry,
    secrets: SecretBox,
) -> HubService:
    hub = HubService(database, accounts, registry, base_url=settings.base_url, secrets=secrets)
    recorder = ActivityRecorder(ActivityStore(database, hub.base_url))
    registry.events.subscribe(recorder)
    sessions = SessionStore(database)
    app.state.hub = hub
    app.state.web = WebApp(settings, hub, accounts, sessions, environment(), password_login(app.state.auth))
    app.router.routes.extend(page_routes())
    _html_errors(app)
    _during_lifespan(app, recorder, sessions)
    return hub


def _during_lifespan(app: Starlette, recorder: ActivityRecorder, sessions: SessionStore) -> None:
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(target: Any) -> AsyncIterator[Any]:
        async with inner(target) as state:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(recorder.run)
                tasks.start_soon(_sweep_sessions, sessions)
                try:
                    yield state
                finally:
                    tasks.cancel_scope.cancel()
            with anyio.CancelScope(shield=True):
                await recorder.flush()  # before the inner lifespan disposes of the database

    app.router.lifespan_context = lifespan


async def _sweep_sessions(sessions: SessionStore) -> None:
    while True:
        with contextlib.suppress(Exception):
            await sessions.purge_expired()
        await anyio.sleep(SESSION_SWEEP_SECONDS)


def _html_errors(app: Starlette) -> None:
    """Routing errors as pages for browsers; the registry's (JSON) rendering for machine paths."""
    machine = app.exception_handlers.get(HTTPException)

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        path = request.url.path
        if machine is not None and (
            path.startswith(MACHINE_PREFIXES) or "text/html" not in request.headers.get("accept", "")
        ):
            return await machine(request, exc)  # type: ignore[no-any-return]
        web = await load(request)
        if exc.status_code == 404:
            response = not_found(web)
        else:
            response = error_page(web, exc.status_code, "Request refused", str(exc.detail))
        return web.finish(response)

    app.add_exception_handler(HTTPException, handler)
