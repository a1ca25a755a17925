"""GET /metrics after real work, read with prometheus-client's own parser: webhook deliveries POSTed
to a receiver on loopback count under the outcome each attempt left (succeeded, pending, failed:
the delivery's status), and a collector run that frees a blob moves the GC counters.
Dockyard runs in this process."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from dockyard.app import create_app
from dockyard.config import Settings
from dockyard.hub.tables import deliveries
from dockyard.migrations import upgrade
from dockyard.services import Services, build_services
from tests.api.helpers import Receiver
from tests.api.test_delivery_queue import queue_one, row
from tests.ops.test_metrics import samples, value

pytestmark = pytest.mark.anyio
DELIVERIES = "dockyard_webhook_deliveries_total"


@pytest.fixture
async def dockyard(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    settings = Settings(
        data_dir=tmp_path / "data", auth="none", webhook_allow_private=True, webhook_max_attempts=2
    )
    settings.data_dir.mkdir()
    upgrade(settings.resolved_database_url)
    services = build_services(settings)
    transport = httpx.ASGITransport(app=create_app(settings, services))
    async with httpx.AsyncClient(transport=transport, base_url="http://dockyard.test") as http:
        yield http, services
    services.close()


async def _scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    return samples(answer.text)


async def test_webhook_deliveries_count_under_the_status_each_attempt_left(
    dockyard: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = dockyard
    database, worker = services.database, services.deliveries
    with Receiver(statuses=[200, 500, 500]) as receiver:
        worker.client = worker._new_client()  # as its run makes it: the outbound guard included
        try:
            delivered = queue_one(database, url=receiver.url)
            assert await worker.drain_once() == 1
            assert row(database, delivered).status == "succeeded"
            found = await _scrape(client)
            assert value(found, DELIVERIES, outcome="succeeded") == 1
            assert value(found, DELIVERIES, outcome="pending") == 0

            retried = queue_one(database, url=receiver.url)
            assert await worker.drain_once() == 1  # 500: another attempt is due later
            assert row(database, retried).status == "pending"
            with database.write.begin() as conn:  # due now rather than after the back-off
                due = datetime.now(UTC) - timedelta(seconds=1)
                conn.execute(update(deliveries).where(deliveries.c.id == retried).values(next_attempt_at=due))
            assert await worker.drain_once() == 1  # 500 again, and the last of two attempts
            assert row(database, retried).status == "failed"
        finally:
            await worker.client.aclose()
        assert [r.status for r in receiver.snapshot()] == [200, 500, 500]
    found = await _scrape(client)
    counted = {dict(labels)["outcome"]: v for (name, labels), v in found.items() if name == DELIVERIES}
    assert counted == {"succeeded": 1, "pending": 1, "failed": 1}


async def test_a_collector_run_that_frees_a_blob_moves_the_gc_counters(
    dockyard: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = dockyard
    before = await _scrape(client)
    assert value(before, "dockyard_gc_runs_total") == 0
    data = os.urandom(3000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    pushed = await client.post("/v2/alice/app/blobs/uploads/", params={"digest": digest}, content=data)
    assert pushed.status_code == 201  # no manifest references it: garbage once out of grace
    report = await services.collector.collect(0)
    assert report.bytes == len(data)
    assert (await client.get(f"/v2/alice/app/blobs/{digest}")).status_code == 404
    found = await _scrape(client)
    assert value(found, "dockyard_gc_runs_total") == 1
    assert value(found, "dockyard_gc_bytes_freed_total") == len(data)
    await services.collector.collect(0, dry_run=True)  # a preview frees nothing and is no run
    found = await _scrape(client)
    assert value(found, "dockyard_gc_runs_total") == 1
