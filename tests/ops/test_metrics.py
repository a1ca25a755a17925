"""GET /metrics: known traffic, then the counters read back with prometheus-client's own parser;
in-process for the values, and worker processes sharing the multiprocess directory for the sum."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dockyard.app import create_app
from dockyard.config import Settings
from dockyard.metrics import MULTIPROC_ENV
from dockyard.migrations import upgrade
from dockyard.services import build_services

BLOB_ROUTE = "/v2/{name:path}/blobs/{digest}"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(data_dir=tmp_path / "data", auth="none")
    settings.data_dir.mkdir()
    upgrade(settings.resolved_database_url)
    services = build_services(settings)
    transport = httpx.ASGITransport(app=create_app(settings, services))
    async with httpx.AsyncClient(transport=transport, base_url="http://dockyard.test") as http:
        yield http
    services.close()


@pytest.mark.anyio
async def test_requests_bytes_and_routes_are_counted(client: httpx.AsyncClient) -> None:
    data = os.urandom(5000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    pushed = await client.post("/v2/alice/app/blobs/uploads/", params={"digest": digest}, content=data)
    assert pushed.status_code == 201
    for _ in range(3):
        assert (await client.get(f"/v2/alice/app/blobs/{digest}")).status_code == 200
    assert (await client.get("/v2/alice/app/blobs/sha256:" + "0" * 64)).status_code == 404
    response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert value(found, "dockyard_http_requests_total", method="GET", route=BLOB_ROUTE, status="200") == 3
    assert value(found, "dockyard_http_requests_total", method="GET", route=BLOB_ROUTE, status="404") == 1
    assert value(found, "dockyard_blob_bytes_sent_total") == 3 * len(data)
    assert value(found, "dockyard_blob_bytes_received_total") == len(data)
    count = "dockyard_http_request_duration_seconds_count"
    assert value(found, count, method="GET", route=BLOB_ROUTE) == 4
    assert value(found, "dockyard_build_queue_depth") == 0
    routes = {dict(labels).get("route") for (name, labels) in found if name == "dockyard_http_requests_total"}
    assert not any(route and digest in route for route in routes)  # templates, never raw paths


@pytest.mark.anyio
async def test_methods_a_client_makes_up_count_as_other(client: httpx.AsyncClient) -> None:
    """Label values are bounded: a method of the client's invention would otherwise add a series
    (and memory) per name."""
    for method in ("BREW", "WHEN", "BREW"):
        await client.request(method, "/v2/")
    found = samples((await client.get("/metrics")).text)
    methods = {
        dict(labels).get("method") for (name, labels) in found if name == "dockyard_http_requests_total"
    }
    assert "BREW" not in methods and "WHEN" not in methods
    others = [
        v
        for (name, labels), v in found.items()
        if name == "dockyard_http_requests_total" and ("method", "OTHER") in labels
    ]
    assert sum(others) == 3


WORKER = """
from dockyard.metrics import Metrics
metrics = Metrics()
for _ in range(20):
    metrics.requests.labels("GET", "/v2/", "200").inc()
metrics.gc_finished(1000)
print(metrics.exposition().decode())
"""


def test_worker_processes_add_up(tmp_path: Path) -> None:
    """What `dockyard serve` sets up for its workers (PROMETHEUS_MULTIPROC_DIR before they import
    prometheus-client): three processes count, and any of them reports the sum."""
    fresh = tmp_path / "metrics"
    fresh.mkdir()
    (fresh / "counter_999.db").write_bytes(b"")  # a previous run's file: removed at start
    code = "import sys, pathlib, dockyard.metrics as m; m.fresh_multiprocess_dir(pathlib.Path(sys.argv[1]))"
    subprocess.run([sys.executable, "-c", code, str(fresh)], check=True, timeout=60)
    assert not (fresh / "counter_999.db").exists()
    env = {**os.environ, MULTIPROC_ENV: str(fresh)}
    outputs = [
        subprocess.run(
            [sys.executable, "-c", WORKER], env=env, capture_output=True, text=True, check=True
        ).stdout
        for _ in range(3)
    ]
    found = samples(outputs[-1])
    assert value(found, "dockyard_http_requests_total", method="GET", route="/v2/", status="200") == 60
    assert (
        value(found, "dockyard_gc_runs_total") == 3 and value(found, "dockyard_gc_bytes_freed_total") == 3000
    )


@pytest.mark.anyio
async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ok", "database": "ok", "storage": "ok"}


@pytest.mark.anyio
async def test_readyz_names_a_storage_that_does_not_answer(tmp_path: Path) -> None:
    from dockyard.storage import StorageError

    settings = Settings(data_dir=tmp_path / "data", auth="none")
    settings.data_dir.mkdir()
    upgrade(settings.resolved_database_url)
    services = build_services(settings)

    async def broken(path: str) -> None:
        raise StorageError("the bucket is gone")

    services.storage.stat = broken  # type: ignore[method-assign]
    transport = httpx.ASGITransport(app=create_app(settings, services))
    async with httpx.AsyncClient(transport=transport, base_url="http://dockyard.test") as http:
        ready = await http.get("/readyz")
    services.close()
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "database": "ok", "storage": "error"}


def test_the_multiprocess_directory_is_never_in_the_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """prometheus-client mmaps its files: on the data folder's disk, filling it up would SIGBUS."""
    from dockyard.metrics import multiprocess_metrics

    monkeypatch.setenv(MULTIPROC_ENV, "/somewhere/old")
    multiprocess_metrics(1)
    assert MULTIPROC_ENV not in os.environ  # one worker: in memory
    multiprocess_metrics(2)
    made = Path(os.environ[MULTIPROC_ENV])
    assert made.is_dir() and made.name.startswith("dockyard-metrics-")
    made.rmdir()
