"""The web application: routes and middleware over the services of ``dockyard/services.py``.

``create_app(settings, services=None)`` builds the services itself unless given them (and then
closes them when the app stops). One lifespan runs the background tasks of the roles in
DOCKYARD_BACKGROUND, and the web process's own (the activity flush), under one supervisor.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dockyard import probes
from dockyard.accesslog import AccessLog
from dockyard.auth.guard import TokenGuard
from dockyard.auth.handlers import token_routes
from dockyard.background import running
from dockyard.bodies import body_rules
from dockyard.config import Settings
from dockyard.edge import Edge, EdgeStarlette
from dockyard.metrics import CONTENT_TYPE, Metrics, RequestMetrics
from dockyard.peers import TrustedProxies
from dockyard.registry.app import (
    http_error,
    registry_error,
    storage_full_error,
    storage_unavailable_error,
)
from dockyard.registry.errors import RegistryError
from dockyard.registry.routes import registry_routes
from dockyard.services import Services, build_services
from dockyard.storage import StorageFull, StorageUnavailable
from dockyard.web import setup as web_pages
from dockyard.web.api import setup as web_api
from dockyard.web.api.deps import Context


def create_app(settings: Settings, services: Services | None = None) -> Starlette:
    owned = services is None
    services = services or build_services(settings)
    routes, middleware = registry_routes(), []
    if services.auth is not None:
        routes += token_routes()
        # Inside the edge, which adds the API version header: the guard's 401s get it too.
        guard = Middleware(
            TokenGuard, auth=services.auth, service=settings.token_service, public_url=settings.public_url
        )
        middleware.append(guard)
    app = EdgeStarlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            RegistryError: registry_error,
            HTTPException: http_error,
            StorageFull: storage_full_error,
            StorageUnavailable: storage_unavailable_error,
        },
        lifespan=_lifespan(services, close=owned),
    )
    app.state.settings = settings
    app.state.registry = services.registry
    app.state.accounts = services.accounts
    app.state.auth = services.login
    app.state.builds = services.builds
    web_pages.install(
        app,
        settings,
        services.hub,
        services.accounts,
        services.sessions,
        services.login,
        services.secrets,
        services.proxy,
    )
    api = web_api.install(app, _api_context(services))
    ready = probes.readyz(services.database, services.storage)
    app.router.routes.append(Route("/metrics", _metrics_endpoint(services.metrics), methods=["GET"]))
    app.router.routes.append(Route("/healthz", probes.healthz, methods=["GET"]))
    app.router.routes.append(Route("/readyz", ready, methods=["GET"]))
    # Outermost, added last: every layer below sees the resolved client address, every body is
    # limited while it is read whichever route it is for, and 413s are logged and counted.
    owned_by_api = web_api.api_paths(api)
    app.add_middleware(
        Edge,
        log=AccessLog(mode=settings.access_log, proxies=TrustedProxies(settings.trusted_networks)),
        metrics=RequestMetrics(services.metrics),
        rules=body_rules(settings.max_body_bytes, owned_by_api),
        api_paths=owned_by_api,
    )
    return app


def _metrics_endpoint(metrics: Metrics) -> Callable[[Request], Awaitable[Response]]:
    async def scrape(request: Request) -> Response:
        body = await anyio.to_thread.run_sync(metrics.exposition)
        return Response(body, media_type=CONTENT_TYPE)

    return scrape


def _api_context(services: Services) -> Context:
    return Context(
        services.settings,
        services.accounts,
        services.hub,
        services.login,
        services.hub_tokens,
        services.api_store,
        services.builds,
        services.proxy,
    )


def _lifespan(
    services: Services, *, close: bool
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = services.background(services.settings.background_roles, web=True)
        try:
            async with running(tasks, services.clock):
                yield
        finally:
            if close:
                services.close()

    return lifespan
