"""The composition root: every service of a Dockyard process, built once from the settings.

    build_services(settings, clock=SystemClock()) -> Services
    open_services(settings)                           the same as a context manager that closes them

``create_app`` (the web process), the CLI's commands and ``dockyard worker`` all start here, and
no other module builds a service or loads a key: the database engine, the storage driver, the
secrets box and the token signing key exist once per process, and so do the one login (and its
throttle) and the hub. Background work is a list (``Services.background``), each task with the
role that runs it (``dockyard/background.py``):

    role        task                 what it does
    events      events-dispatch      runs the handlers of the outbox's events (dockyard/events):
                                     push statistics and webhooks, audit, what a deleted
                                     repository leaves in the hub, accounts and builds
    janitor     uploads-janitor      removes upload sessions untouched for DOCKYARD_UPLOAD_TTL_SECONDS
                sessions-sweep       removes expired web sessions
                garbage-collector    collects unreachable manifests and unused blobs every
                                     DOCKYARD_GC_INTERVAL_SECONDS (registry/gc.py; 0: off)
                retention            deletes the tags retention policies let go, every
                                     DOCKYARD_RETENTION_INTERVAL_SECONDS (hub/retention.py; 0: off)
    webhooks    webhook-delivery     drains the webhook_deliveries queue (hub/delivery.py)
    builds      build-worker         claims and runs queued builds (builds/worker.py)
    (web)       activity-flush       writes this process's buffered pull counts; every web process
                                     runs it and flushes once more on the way down
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import datetime

from dockyard.accounts import readmodels as account_reads
from dockyard.accounts import registry_events as account_events
from dockyard.accounts.limits import CreationLimits
from dockyard.accounts.reservations import NamespaceReservations
from dockyard.accounts.service import AccountService
from dockyard.auth.counters import CounterStore, DatabaseCounters
from dockyard.auth.keys import SigningKey, load_or_create
from dockyard.auth.ratelimit import PullRateLimiter
from dockyard.auth.service import AuthService
from dockyard.auth.throttle import LoginThrottle
from dockyard.auth.tokens import TokenAuthority
from dockyard.background import BackgroundTask, periodic, select
from dockyard.builds import readmodels as build_reads
from dockyard.builds import registry_events as build_events
from dockyard.builds.context import BuildsContext
from dockyard.builds.events import BUILD_STATE, write_build_state
from dockyard.builds.pushauth import PushTokens, token_ttl
from dockyard.builds.queue import BuildQueue
from dockyard.builds.runner import Runner, registry_address
from dockyard.builds.service import BuildService
from dockyard.builds.worker import BuildWorker
from dockyard.clock import Clock, SystemClock
from dockyard.config import Settings
from dockyard.db.engine import Database, make_database
from dockyard.events import Dispatcher
from dockyard.hub.activity import ActivityHandlers, ActivityStore
from dockyard.hub.build_events import BuildWebhooks
from dockyard.hub.delivery import DeliveryQueue, DeliveryWorker, RetryPolicy
from dockyard.hub.retention import Retention
from dockyard.hub.service import HubService
from dockyard.hub.stats import ActivityRecorder
from dockyard.metrics import Metrics
from dockyard.proxy.cache import PullThroughCache
from dockyard.proxy.service import ProxyService
from dockyard.proxy.store import ProxyStore
from dockyard.registry import events as registry_events
from dockyard.registry.gc import Collector
from dockyard.registry.service import Registry
from dockyard.registry.space import DiskRoom
from dockyard.registry.store import MetadataStore
from dockyard.secretbox import SecretBox
from dockyard.storage import StorageDriver, driver_for
from dockyard.storage.space import Reserve
from dockyard.web.api.store import ApiStore
from dockyard.web.api.tokens import HubTokens
from dockyard.web.sessions import SessionStore

SESSION_SWEEP_SECONDS = 3600.0
MAX_JANITOR_SECONDS = 3600.0
PROXY_JANITOR_SECONDS = 600.0  # proxy spools of killed processes, namespaces over their size limit


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    database: Database
    storage: StorageDriver
    secrets: SecretBox  # seals webhook and build secrets (DOCKYARD_SECRETS_KEY_FILE)
    signing_key: SigningKey  # signs registry, hub API and build push tokens
    registry: Registry
    accounts: AccountService
    login: AuthService  # the one password login of every door, with the one throttle
    auth: AuthService | None  # the token server and guard: ``login`` under token auth, else None
    hub: HubService
    hub_tokens: HubTokens
    api_store: ApiStore  # what the JSON API asks of the registry and accounts beyond the hub
    sessions: SessionStore
    activity: ActivityRecorder
    builds: BuildsContext
    build_worker: BuildWorker
    deliveries: DeliveryWorker
    dispatcher: Dispatcher  # the outbox's: handlers registered by register_handlers
    proxy: ProxyService  # proxy namespaces; its cache is the registry's pull_through
    metrics: Metrics  # GET /metrics (dockyard/metrics.py)

    def background(self, roles: Collection[str], *, web: bool = False) -> list[BackgroundTask]:
        """The tasks of ``roles``; with ``web``, also those every web process runs for itself."""
        return select(self._tasks(), roles, web=web)

    def _tasks(self) -> list[BackgroundTask]:
        settings, clock = self.settings, self.clock
        uploads_ttl = settings.upload_ttl_seconds

        async def purge_uploads() -> None:
            await self.registry.uploads.purge_stale(uploads_ttl)

        async def purge_sessions() -> None:
            await self.sessions.purge_expired()

        janitor_every = min(MAX_JANITOR_SECONDS, uploads_ttl / 4)
        return [
            BackgroundTask(
                "uploads-janitor", "janitor", periodic(janitor_every, purge_uploads, clock, wait_first=True)
            ),
            *self._collector_tasks(),
            *self._retention_tasks(),
            BackgroundTask(
                "sessions-sweep", "janitor", periodic(SESSION_SWEEP_SECONDS, purge_sessions, clock)
            ),
            BackgroundTask(
                "proxy-janitor", "janitor", periodic(PROXY_JANITOR_SECONDS, self.proxy.cache.janitor, clock)
            ),
            BackgroundTask("events-dispatch", "events", self.dispatcher.run),
            BackgroundTask("webhook-delivery", "webhooks", self.deliveries.run),
            BackgroundTask("build-worker", "builds", self.build_worker.run),
            BackgroundTask("activity-flush", None, self.activity.run, stop=self.activity.flush),
        ]

    def _collector_tasks(self) -> list[BackgroundTask]:
        settings = self.settings
        if not settings.gc_interval_seconds:
            return []

        async def collect() -> None:
            await self.collector.collect(
                settings.gc_grace_seconds, trigger="janitor", upload_ttl_seconds=settings.upload_ttl_seconds
            )

        run = periodic(settings.gc_interval_seconds, collect, self.clock, wait_first=True)
        return [BackgroundTask("garbage-collector", "janitor", run)]

    def _retention_tasks(self) -> list[BackgroundTask]:
        every = self.settings.retention_interval_seconds
        if not every:
            return []

        async def apply() -> None:
            await self.retention.apply(self.clock.now(), actor=None)

        return [BackgroundTask("retention", "janitor", periodic(every, apply, self.clock, wait_first=True))]

    @property
    def retention(self) -> Retention:
        return Retention(self.database, self.registry, self.accounts)

    @property
    def collector(self) -> Collector:
        registry = self.registry
        return Collector(
            registry.storage,
            registry.store,
            registry.uploads,
            observe=self.metrics.gc_finished,
            spare=self._spared,
        )

    async def _spared(self, now: datetime) -> set[int]:
        """Untagged manifests the collector leaves alone: those a retention policy still keeps,
        and every manifest of a proxy namespace (its size limit's eviction removes those)."""
        return await self.retention.spared(now) | await self.proxy.spared(now)

    def close(self) -> None:
        self.database.dispose()


def build_services(settings: Settings, *, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    database = make_database(settings.resolved_database_url)
    secrets = SecretBox.from_settings(settings)
    signing_key = load_or_create(settings.data_dir, settings.token_signing_key_path)
    storage = driver_for(settings)
    room = DiskRoom(Reserve(settings.data_dir / "reserve", settings.disk_reserve_bytes))
    dispatcher = Dispatcher(database)
    store = MetadataStore(database, default_private=account_reads.default_private)
    registry = Registry(storage, store, settings.max_manifest_bytes, room, dispatcher)
    metrics = Metrics()
    proxy = _proxy(settings, database, secrets, registry, metrics)
    accounts = AccountService(database, limits=CreationLimits.from_settings(settings))
    login = _login(settings, accounts, signing_key, clock, DatabaseCounters(database))
    hub = HubService(
        database, accounts, registry, base_url=settings.base_url, secrets=secrets, signup=settings.signup
    )
    activity = ActivityRecorder(ActivityStore(database))
    registry.pulls.subscribe(activity)
    register_handlers(dispatcher, ActivityHandlers(database, hub.base_url), BuildWebhooks(hub.base_url))
    metrics.gauge("dockyard_build_queue_depth", "Builds waiting to run", _queue_depth(database))
    return Services(
        settings=settings,
        clock=clock,
        database=database,
        storage=storage,
        secrets=secrets,
        signing_key=signing_key,
        registry=registry,
        accounts=accounts,
        login=login,
        auth=login if settings.auth == "token" else None,
        hub=hub,
        hub_tokens=_hub_tokens(settings, signing_key),
        api_store=ApiStore(registry.store, accounts),
        sessions=SessionStore(database),
        activity=activity,
        builds=_builds(settings, database, accounts, secrets),
        build_worker=_build_worker(settings, database, accounts, secrets, signing_key, clock),
        deliveries=DeliveryWorker(
            DeliveryQueue(database, secrets),
            retry_policy(settings),
            allow_private=settings.webhook_allow_private,
            observe=metrics.delivered,
        ),
        dispatcher=dispatcher,
        proxy=proxy,
        metrics=metrics,
    )


def register_handlers(dispatcher: Dispatcher, hub: ActivityHandlers, build_hooks: BuildWebhooks) -> None:
    """Who acts on which event, in the order they run (in one transaction)."""
    on = dispatcher.on
    on(BUILD_STATE, build_hooks.handle)
    dispatcher.on_many(registry_events.PUSHED, hub.pushed)
    dispatcher.on_many(registry_events.PUSHED, account_events.pushed)
    on(registry_events.TAG_DELETED, account_events.deleted)
    on(registry_events.MANIFEST_DELETED, account_events.deleted)
    on(registry_events.REPOSITORY_DELETED, hub.repository_deleted)
    on(registry_events.REPOSITORY_DELETED, build_events.repository_deleted)
    on(registry_events.REPOSITORY_DELETED, account_events.repository_deleted)


@contextlib.contextmanager
def open_services(settings: Settings) -> Iterator[Services]:
    """Services for a command: built on entry, the database closed on exit."""
    services = build_services(settings)
    try:
        yield services
    finally:
        services.close()


def _proxy(
    settings: Settings, database: Database, secrets: SecretBox, registry: Registry, metrics: Metrics
) -> ProxyService:
    rows = ProxyStore(database, secrets, NamespaceReservations())
    cache = PullThroughCache(
        rows,
        registry.store,
        registry.storage,
        spool=settings.data_dir / "proxy-spool",
        allow_private=settings.proxy_allow_private,
        timeout=settings.proxy_timeout_seconds,
        max_manifest_bytes=settings.max_manifest_bytes,
        metrics=metrics,
    )
    registry.pull_through = cache
    return ProxyService(rows, cache)


def _login(
    settings: Settings, accounts: AccountService, key: SigningKey, clock: Clock, counters: CounterStore
) -> AuthService:
    authority = TokenAuthority(
        key,
        issuer=settings.token_issuer,
        service=settings.token_service,
        ttl=settings.token_ttl_seconds,
        refresh_ttl=settings.refresh_token_ttl_seconds,
        leeway=settings.token_leeway_seconds,
        clock=clock,
    )
    throttle = LoginThrottle(
        settings.login_max_failures,
        settings.login_failure_window_seconds,
        settings.login_lockout_seconds,
        clock.time,
        ip_max_failures=settings.login_ip_max_failures,
        store=counters,
    )
    limiter = PullRateLimiter(
        settings.pull_limit_anonymous,
        settings.pull_limit_authenticated,
        settings.pull_limit_window_seconds,
        clock.time,
        store=counters,
    )
    return AuthService(accounts, authority, throttle, limiter)


def _hub_tokens(settings: Settings, key: SigningKey) -> HubTokens:
    return HubTokens(
        key,
        issuer=settings.token_issuer,
        service=settings.token_service,
        ttl=settings.api_token_ttl_seconds,
        leeway=settings.token_leeway_seconds,
    )


def _builds(
    settings: Settings, database: Database, accounts: AccountService, secrets: SecretBox
) -> BuildsContext:
    service = BuildService(database, secrets, settings.builds.queue_limit)
    work_dir = settings.data_dir / "builds" / "work"
    return BuildsContext(service, accounts, settings.builds, work_dir, settings.auth == "none")


def _build_worker(
    settings: Settings,
    database: Database,
    accounts: AccountService,
    secrets: SecretBox,
    key: SigningKey,
    clock: Clock,
) -> BuildWorker:
    builds = settings.builds
    # A build's moves write a build.state outbox event in their transaction (its webhooks: the hub's
    # handler, registered in register_handlers).
    queue = BuildQueue(
        database, secrets, builds.lease_seconds, builds.max_attempts, events=write_build_state, clock=clock
    )
    runner = Runner(builds, settings.data_dir / "builds" / "work", registry_address(settings))
    authority = None
    if settings.auth == "token":
        authority = TokenAuthority(
            key,
            issuer=settings.token_issuer,
            service=settings.token_service,
            ttl=token_ttl(builds.timeout_seconds),
            refresh_ttl=settings.refresh_token_ttl_seconds,
            leeway=settings.token_leeway_seconds,
            clock=clock,
        )
    return BuildWorker(builds, queue, runner, PushTokens(accounts, authority))


def _queue_depth(database: Database) -> Callable[[], float]:
    def depth() -> float:
        with database.read.connect() as conn:
            return float(build_reads.queued_count(conn))

    return depth


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        timeout=settings.webhook_timeout_seconds,
        retry_base=settings.webhook_retry_base_seconds,
        retry_max=settings.webhook_retry_max_seconds,
        max_attempts=settings.webhook_max_attempts,
        poll_interval=settings.webhook_poll_seconds,
    )
