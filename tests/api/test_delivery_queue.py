"""The webhook delivery queue and worker on a migrated SQLite database, without a server: claims
and leases, back-off, giving up, stale results, signatures, and what one attempt records."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from dockyard.db.engine import Database
from dockyard.hub.delivery import (
    SIGNATURE_HEADER,
    Claimed,
    DeliveryQueue,
    DeliveryWorker,
    Outcome,
    RetryPolicy,
    sign,
)
from dockyard.hub.tables import deliveries, webhooks
from dockyard.registry.store import repositories
from dockyard.secretbox import SecretBox

pytestmark = pytest.mark.anyio
POLICY = RetryPolicy(timeout=2, retry_base=10, retry_max=60, max_attempts=3)


def box_of(database: Database) -> SecretBox:
    """The secrets box of the data folder the test database lives in."""
    return SecretBox.from_data_dir(Path(database.read.url.database or "").parent)


def queue_one(database: Database, *, secret: str = "k", active: bool = True, url: str = "http://hook") -> int:
    """A repository, a webhook (URL and secret sealed as the hub seals them) and one due delivery;
    returns the delivery's id."""
    now = datetime.now(UTC)
    box = box_of(database)
    with database.write.begin() as conn:
        repo_id = conn.execute(
            repositories.insert().values(name=f"alice/r{now.timestamp()}")
        ).inserted_primary_key
        hook_id = conn.execute(
            webhooks.insert().values(
                repository_id=repo_id[0],
                name="ci",
                sealed_url=box.seal_text(url),
                sealed_secret=box.seal_text(secret),
                active=active,
            )
        ).inserted_primary_key
        result = conn.execute(
            deliveries.insert().values(
                webhook_id=hook_id[0],
                payload={"push_data": {"tag": "v1"}},
                next_attempt_at=now - timedelta(seconds=1),
            )
        )
    return int(result.inserted_primary_key[0])


def row(database: Database, delivery_id: int) -> Any:
    with database.read.connect() as conn:
        return conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).one()


def test_back_off_doubles_up_to_the_cap() -> None:
    assert [POLICY.delay(n) for n in range(1, 6)] == [10, 20, 40, 60, 60]


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"a":1}'
    assert sign("secret", body) == "sha256=" + hmac.new(b"secret", body, hashlib.sha256).hexdigest()


async def test_a_claim_leases_the_row(database: Database) -> None:
    delivery_id = queue_one(database)
    queue = DeliveryQueue(database, box_of(database))
    claimed = await queue.claim(10, lease=30)
    assert [c.id for c in claimed] == [delivery_id]
    assert claimed[0].payload == {"push_data": {"tag": "v1"}} and claimed[0].secret == "k"
    assert await queue.claim(10, lease=30) == []  # leased: no second sender
    leased_until = row(database, delivery_id).next_attempt_at.replace(tzinfo=UTC)
    assert leased_until > datetime.now(UTC) + timedelta(seconds=25)


async def test_failures_back_off_then_give_up(database: Database) -> None:
    delivery_id = queue_one(database)
    queue = DeliveryQueue(database, box_of(database))
    for attempt in range(1, POLICY.max_attempts + 1):
        _make_due(database, delivery_id)
        (claimed,) = await queue.claim(10, lease=30)
        assert claimed.attempts == attempt - 1
        status = await queue.record(claimed, Outcome(503, "HTTP 503"), POLICY)
        current = row(database, delivery_id)
        assert current.attempts == attempt and current.last_status_code == 503
        if attempt < POLICY.max_attempts:
            assert status == "pending"
            wait = current.next_attempt_at.replace(tzinfo=UTC) - datetime.now(UTC)
            assert POLICY.delay(attempt) - 2 < wait.total_seconds() <= POLICY.delay(attempt)
        else:
            assert status == "failed" and current.next_attempt_at is None
    assert await queue.claim(10, lease=30) == []


async def test_success_is_recorded_once(database: Database) -> None:
    delivery_id = queue_one(database)
    queue = DeliveryQueue(database, box_of(database))
    (claimed,) = await queue.claim(10, lease=30)
    assert await queue.record(claimed, Outcome(204, None), POLICY) == "succeeded"
    # A late result for the same attempt (say, from a process whose lease ran out) changes nothing.
    await queue.record(claimed, Outcome(500, "late"), POLICY)
    current = row(database, delivery_id)
    assert current.status == "succeeded" and current.attempts == 1 and current.last_status_code == 204
    assert current.delivered_at is not None


async def test_a_disabled_webhook_is_not_called(database: Database) -> None:
    delivery_id = queue_one(database, active=False)
    assert await DeliveryQueue(database, box_of(database)).claim(10, lease=30) == []
    current = row(database, delivery_id)
    assert current.status == "failed" and "disabled" in current.last_error


async def test_an_attempt_posts_the_signed_body() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500, text="boom " * 300)

    worker = DeliveryWorker(_no_queue(), POLICY, httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    item = Claimed(7, "push", {"push_data": {"tag": "v1"}}, 0, "http://hook/x", "s3cret")
    outcome = await worker.attempt(item)
    assert outcome.status_code == 500 and outcome.error is not None
    assert outcome.error == "HTTP 500 Internal Server Error"  # the receiver's body stays out of the history
    request = seen[0]
    assert json.loads(request.content) == item.payload
    assert request.headers[SIGNATURE_HEADER] == sign("s3cret", request.content)
    assert request.headers["X-Dockyard-Delivery"] == "7" and request.headers["X-Dockyard-Event"] == "push"
    unsigned = await worker.attempt(Claimed(8, "push", {}, 0, "http://hook/x", ""))
    assert unsigned.status_code == 500 and SIGNATURE_HEADER not in seen[1].headers


async def test_an_unreachable_receiver_is_an_error_without_status() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    worker = DeliveryWorker(_no_queue(), POLICY, httpx.AsyncClient(transport=httpx.MockTransport(refuse)))
    outcome = await worker.attempt(Claimed(1, "push", {}, 0, "http://hook", "k"))
    assert outcome == Outcome(None, "ConnectError: connection refused")
    assert not outcome.ok


def _make_due(database: Database, delivery_id: int) -> None:
    with database.write.begin() as conn:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id)
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )


def _no_queue() -> DeliveryQueue:
    return DeliveryQueue.__new__(DeliveryQueue)  # attempt() never touches the database
