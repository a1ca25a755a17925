"""Wiring: the builds domain built once from the settings, for the web app and for workers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import anyio
from starlette.applications import Starlette

from dockyard.accounts.service import AccountService
from dockyard.builds.config import BuildSettings
from dockyard.builds.context import BuildsContext
from dockyard.builds.queue import BuildQueue
from dockyard.builds.routes import build_routes
from dockyard.builds.runner import Runner
from dockyard.builds.secrets import SecretBox
from dockyard.builds.service import BuildService
from dockyard.builds.worker import BuildWorker
from dockyard.config import Settings
from dockyard.db.engine import Database

WILDCARD_HOSTS = ("0.0.0.0", "::", "", "localhost")


def registry_address(settings: Settings, builds: BuildSettings) -> str:
    """host:port where the build engine reaches this Dockyard to push."""
    if builds.registry:
        return builds.registry
    if settings.public_url:
        return urlsplit(settings.public_url).netloc
    host = "127.0.0.1" if settings.host in WILDCARD_HOSTS else settings.host
    return f"{host}:{settings.port}"


def context(
    settings: Settings, database: Database, accounts: AccountService, box: SecretBox | None = None
) -> BuildsContext:
    builds = BuildSettings()
    box = box or SecretBox.from_settings(settings)
    service = BuildService(database, box, builds.queue_limit)
    work_dir = settings.data_dir / "builds" / "work"
    return BuildsContext(service, accounts, builds, work_dir, settings.auth == "none")


def make_worker(
    settings: Settings, database: Database, accounts: AccountService, box: SecretBox | None = None
) -> BuildWorker:
    from dockyard.builds.pushauth import PushTokens
    from dockyard.hub.build_events import BuildWebhooks

    builds = BuildSettings()
    box = box or SecretBox.from_settings(settings)
    hooks = BuildWebhooks(settings.base_url)
    queue = BuildQueue(database, box, builds.lease_seconds, builds.max_attempts, events=hooks)
    runner = Runner(builds, settings.data_dir / "builds" / "work", registry_address(settings, builds))
    return BuildWorker(builds, queue, runner, PushTokens(settings, builds, accounts))


def install(
    app: Starlette, settings: Settings, database: Database, accounts: AccountService, box: SecretBox
) -> None:
    """Add the build routes, and a build worker to the app's lifespan unless turned off."""
    ctx = context(settings, database, accounts, box)
    app.state.builds = ctx
    app.router.routes.extend(build_routes())
    if not ctx.settings.embedded_worker:
        return
    worker = make_worker(settings, database, accounts, box)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with inner(app) as state, anyio.create_task_group() as tasks:
            tasks.start_soon(worker.run)
            yield state
            tasks.cancel_scope.cancel()

    app.router.lifespan_context = lifespan
