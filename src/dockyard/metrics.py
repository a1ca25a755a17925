"""Prometheus metrics (``prometheus-client``), served at ``GET /metrics`` in the text format.

    dockyard_http_requests_total{method,route,status}      every request; ``route`` is the route's
    dockyard_http_request_duration_seconds{method,route}    template (``/v2/{name:path}/blobs/{digest}``),
                                                            never a raw path: bounded label values
    dockyard_blob_bytes_received_total                     blob upload bodies (POST, PATCH, PUT)
    dockyard_blob_bytes_sent_total                         blob GET bodies (their Content-Length)
    dockyard_gc_runs_total, dockyard_gc_bytes_freed_total   garbage collections in this server
    dockyard_webhook_deliveries_total{outcome}             attempts by the status they left: succeeded,
                                                            pending (to be retried) or failed (gave up)
    dockyard_build_queue_depth                             queued builds, read at scrape time
    dockyard_proxy_upstream_ratelimit_remaining{namespace}  an upstream's RateLimit-Remaining and
    dockyard_proxy_upstream_ratelimit_limit{namespace}      RateLimit-Limit, as last answered to a
                                                            proxy namespace (the most recent wins)

Several workers: ``dockyard serve`` points PROMETHEUS_MULTIPROC_DIR at a new directory (in
/dev/shm where it can, never in the data folder) before any worker imports prometheus-client, so
each process writes its values there and a scrape of any worker adds them all up
(prometheus-client's multiprocess mode). One worker, or no variable (tests in one process): each
``Metrics`` keeps its values in a registry of its own.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import Scope

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UPLOAD_ROUTE = "/blobs/uploads/"
BLOB_ROUTE = "/blobs/{digest}"


def multiprocess_metrics(workers: int) -> None:
    """Several workers: a new directory (in shared memory where there is some, never in the data
    folder) becomes this server's multiprocess directory. prometheus-client writes it through
    mmap, and a memory-mapped file that cannot grow on a full disk kills the process (SIGBUS):
    the data folder's disk filling up must never take the server down."""
    os.environ.pop(MULTIPROC_ENV, None)
    if workers > 1:
        shm = Path("/dev/shm")
        base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
        fresh_multiprocess_dir(Path(tempfile.mkdtemp(prefix="dockyard-metrics-", dir=base)))


def fresh_multiprocess_dir(path: Path) -> None:
    """Make ``path`` the multiprocess directory of this server and the workers it starts, without
    the values of a previous run."""
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)


def _multiprocess() -> bool:
    """Whether this process writes its values to the directory (decided when prometheus-client was
    first imported: a process that imported it before the variable was set keeps them in memory)."""
    return bool(os.environ.get(MULTIPROC_ENV)) and values.ValueClass is not values.MutexValue


class _Gauge:
    """A gauge read when scraped (one process answers it, so no multiprocess bookkeeping)."""

    def __init__(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self.name, self.documentation, self.read = name, documentation, read

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(self.name, self.documentation, value=self.read())


class _Source:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "dockyard_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.duration = Histogram(
            "dockyard_http_request_duration_seconds", "HTTP request duration", ["method", "route"], registry=r
        )
        self.received = Counter("dockyard_blob_bytes_received", "Blob upload bytes received", registry=r)
        self.sent = Counter("dockyard_blob_bytes_sent", "Blob bytes sent", registry=r)
        self.gc_runs = Counter("dockyard_gc_runs", "Garbage collections", registry=r)
        self.gc_freed = Counter("dockyard_gc_bytes_freed", "Bytes freed by garbage collection", registry=r)
        self.deliveries = Counter(
            "dockyard_webhook_deliveries", "Webhook delivery attempts", ["outcome"], registry=r
        )
        self.upstream_remaining = Gauge(
            "dockyard_proxy_upstream_ratelimit_remaining",
            "Pulls the upstream still allows (its RateLimit-Remaining), per proxy namespace",
            ["namespace"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.upstream_limit = Gauge(
            "dockyard_proxy_upstream_ratelimit_limit",
            "The upstream's pull allowance per window (its RateLimit-Limit), per proxy namespace",
            ["namespace"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self._gauges: list[_Gauge] = []

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self._gauges.append(_Gauge(name, documentation, read))

    def gc_finished(self, freed: int) -> None:
        self.gc_runs.inc()
        self.gc_freed.inc(freed)

    def upstream_rate_limit(self, namespace: str, remaining: float | None, limit: float | None) -> None:
        if remaining is not None:
            self.upstream_remaining.labels(namespace).set(remaining)
        if limit is not None:
            self.upstream_limit.labels(namespace).set(limit)

    def delivered(self, outcome: str) -> None:
        self.deliveries.labels(outcome).inc()

    def exposition(self) -> bytes:
        scrape = CollectorRegistry()
        if _multiprocess():
            MultiProcessCollector(scrape)  # type: ignore[no-untyped-call]
        else:
            scrape.register(_Source(self.registry))
        for gauge in self._gauges:
            scrape.register(gauge)
        return generate_latest(scrape)


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """The metrics' half of the request edge (edge.py): counts and times each request by its
    route's template."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        # The labelled children, looked up once per (method, route, status): labels() takes a lock
        # and builds its key on every call. Bounded: methods outside METHODS count as OTHER, routes
        # are templates, statuses are the app's own.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def record(self, scope: Scope, status: int, length: int, received: int, elapsed: float) -> None:
        """``length``: the response's declared Content-Length; ``received``: request body bytes."""
        route = getattr(scope.get("route"), "path", None)
        template = route if isinstance(route, str) else "unmatched"
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        key = (method, template, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.metrics.requests.labels(method, template, str(status)),
                self.metrics.duration.labels(method, template),
            )
        children[0].inc()
        children[1].observe(elapsed)
        if UPLOAD_ROUTE in template and method in ("POST", "PATCH", "PUT"):
            self.metrics.received.inc(received)
        elif template.endswith(BLOB_ROUTE) and method == "GET" and status in (200, 206):
            self.metrics.sent.inc(length)
