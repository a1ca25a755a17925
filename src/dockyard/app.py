"""Application factory: builds every dependency once from Settings and passes it down."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from dockyard.accesslog import RequestLog
from dockyard.accounts.limits import CreationLimits
from dockyard.accounts.service import AccountService
from dockyard.auth.handlers import token_routes
from dockyard.auth.setup import build_auth, guard_middleware
from dockyard.bodies import BodyLimits, body_rules
from dockyard.builds import setup as builds
from dockyard.config import Settings
from dockyard.db.engine import make_database
from dockyard.peers import TrustedProxies
from dockyard.registry.app import APIVersionHeader, http_error, registry_error, storage_full_error
from dockyard.registry.errors import RegistryError
from dockyard.registry.routes import registry_routes
from dockyard.registry.service import Registry
from dockyard.registry.space import DiskRoom
from dockyard.registry.store import MetadataStore
from dockyard.secretbox import SecretBox
from dockyard.storage import StorageFull, create_driver
from dockyard.storage.space import Reserve
from dockyard.web import setup as web_pages
from dockyard.web.api import setup as web_api


def create_app(settings: Settings) -> Starlette:
    database = make_database(settings.resolved_database_url)
    secrets = SecretBox.from_settings(settings)  # loaded once, for the hub and the builds
    storage = create_driver(settings.storage, root=settings.storage_root)
    room = DiskRoom(Reserve(settings.data_dir / "reserve", settings.disk_reserve_bytes))
    registry = Registry(storage, MetadataStore(database), settings.max_manifest_bytes, room)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_janitor, registry, settings)
            yield
            tasks.cancel_scope.cancel()
        database.dispose()

    accounts = AccountService(database, limits=CreationLimits.from_settings(settings))
    # The one login every door shares (throttled, audited), also for an open registry's pages and APIs.
    auth = build_auth(settings, accounts)
    routes, middleware = registry_routes(), [Middleware(APIVersionHeader)]
    if settings.auth == "token":
        routes += token_routes()
        middleware.append(guard_middleware(settings, auth))  # inside: its 401s get the API version header

    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            RegistryError: registry_error,
            HTTPException: http_error,
            StorageFull: storage_full_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.registry = registry
    app.state.accounts = accounts
    app.state.auth = auth
    builds.install(app, settings, database, accounts, secrets)
    hub = web_pages.install(app, settings, database, accounts, registry, secrets)
    api = web_api.install(
        app,
        settings,
        database=database,
        accounts=accounts,
        registry=registry,
        secrets=secrets,
        hub=hub,
        auth=auth,
    )
    # Every body is limited while it is read, whichever route it is for.
    app.add_middleware(BodyLimits, rules=body_rules(settings.max_body_bytes, web_api.api_paths(api)))
    # Outermost, added last: every layer below sees the resolved client address (and 413s are logged).
    proxies = TrustedProxies(settings.trusted_networks)
    app.add_middleware(RequestLog, mode=settings.access_log, proxies=proxies)
    return app


async def _janitor(registry: Registry, settings: Settings) -> None:
    """Sweep abandoned upload sessions now and then; every worker may, deletes are idempotent."""
    interval = min(3600.0, settings.upload_ttl_seconds / 4)
    while True:
        await anyio.sleep(interval)
        with contextlib.suppress(Exception):  # a failed sweep is retried next round
            await registry.uploads.purge_stale(settings.upload_ttl_seconds)


def app_from_env() -> Starlette:
    """Entry point for server worker processes: settings come from DOCKYARD_* variables."""
    from dockyard.server import bind_to_supervisor

    bind_to_supervisor()
    return create_app(Settings())
