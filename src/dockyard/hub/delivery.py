"""Webhook delivery: a worker that drains the ``webhook_deliveries`` queue (hub/models.py).

A push queues one row per (active webhook, tag) in the same transaction that records the push
(hub/activity.py). Each process with the ``webhooks`` role (background.py) runs one ``DeliveryWorker``:

    claim    one write transaction takes up to ``batch`` due rows (status "pending",
             next_attempt_at <= now) and pushes their next_attempt_at forward by a lease, so
             another process (or this one after a crash) only retries them once the lease ends
    attempt  POST the payload as JSON, at most ``timeout`` seconds, redirects not followed, only
             to public addresses (netguard.py: checked after DNS on every connection, unless
             DOCKYARD_WEBHOOK_ALLOW_PRIVATE); errors keep no byte of what the receiver answered;
             headers X-Dockyard-Event, X-Dockyard-Delivery and, when the webhook has a secret,
             X-Dockyard-Signature-256: sha256=<HMAC-SHA256 of the exact body bytes, hex>
    record   attempts + 1, last_status_code, last_error, and the attempt in the delivery's history
             (hub/attempts.py: when, how long, the status code); a 2xx is "succeeded" (delivered_at);
             otherwise the next attempt waits retry_base * 2 ** (attempts - 1) seconds (capped),
             and after ``max_attempts`` the row is "failed"

A receiver verifies with ``hmac.compare_digest(header, "sha256=" + hmac_sha256(secret, body))``.
Deliveries are at least once: a process killed between the POST and the record step leaves the
row to be sent again after its lease, so receivers should treat X-Dockyard-Delivery as an id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

import anyio
import httpx
from sqlalchemy import and_, select, update
from sqlalchemy.engine import Connection

from dockyard.db.engine import Database, offload
from dockyard.guarded_http import GuardedTransport
from dockyard.hub.attempts import write_attempt
from dockyard.hub.tables import deliveries, now, webhooks
from dockyard.secretbox import SecretBox

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Dockyard-Signature-256"
EVENT_HEADER = "X-Dockyard-Event"
DELIVERY_HEADER = "X-Dockyard-Delivery"
USER_AGENT = "Dockyard-Webhook/1.0"
MAX_ERROR_CHARS = 500
ALLOW_PRIVATE_SETTING = "DOCKYARD_WEBHOOK_ALLOW_PRIVATE"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    timeout: float = 10.0  # seconds per attempt, connect to last byte
    retry_base: float = 10.0  # the first retry waits this long, each next one twice as long
    retry_max: float = 3600.0  # no wait longer than this
    max_attempts: int = 8
    poll_interval: float = 1.0  # how often an idle worker looks for due rows
    batch: int = 16  # rows claimed (and sent concurrently) at a time

    @property
    def lease(self) -> float:
        """Long enough for a whole batch to finish before another process may take it over."""
        return self.timeout + 30.0

    def delay(self, attempts: int) -> float:
        return float(min(self.retry_max, self.retry_base * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True, slots=True)
class Claimed:
    """A due delivery and what sending it needs."""

    id: int
    event: str
    payload: dict[str, Any]
    attempts: int  # before this one
    url: str
    secret: str


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None  # None: no HTTP response (refused, timed out, bad URL)
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class DeliveryQueue:
    """The queue's database side: claim due rows, record each attempt."""

    def __init__(self, database: Database, box: SecretBox) -> None:
        self.db = database
        self.box = box  # opens each webhook's sealed URL and secret (hub/webhook_store.py)
        self._skip_locked = database.dialect == "postgresql"

    @offload
    def claim(self, limit: int, lease: float) -> list[Claimed]:
        at = now()
        due = and_(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= at)
        query = (
            select(
                deliveries.c.id,
                deliveries.c.event,
                deliveries.c.payload,
                deliveries.c.attempts,
                webhooks.c.sealed_url,
                webhooks.c.sealed_secret,
                webhooks.c.active,
            )
            .select_from(deliveries.join(webhooks))
            .where(due)
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
        )
        if self._skip_locked:
            query = query.with_for_update(of=deliveries, skip_locked=True)
        with self.db.write.begin() as conn:
            rows = conn.execute(query).all()
            inactive = [row.id for row in rows if not row.active]
            if inactive:
                self._give_up(conn, inactive, "the webhook was disabled before delivery")
            opened = {row.id: self._open(row) for row in rows if row.active}
            sealed_shut = [delivery_id for delivery_id, found in opened.items() if found is None]
            if sealed_shut:
                self._give_up(conn, sealed_shut, "the webhook's URL does not open with this server's key")
            claimed = [found for found in opened.values() if found is not None]
            if claimed:
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_([item.id for item in claimed]))
                    .values(next_attempt_at=at + timedelta(seconds=lease))
                )
        return claimed

    def _open(self, row: Any) -> Claimed | None:
        """The delivery with its webhook's URL and secret unsealed; None when the key does not fit."""
        try:
            url = self.box.open_text(row.sealed_url)
            secret = self.box.open_text(row.sealed_secret) if row.sealed_secret is not None else ""
        except ValueError:
            log.error("webhook delivery %s: the webhook's secrets do not open with this key", row.id)
            return None
        return Claimed(row.id, row.event, dict(row.payload or {}), row.attempts, url, secret)

    @staticmethod
    def _give_up(conn: Connection, ids: Sequence[int], reason: str) -> None:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids))
            .values(status="failed", next_attempt_at=None, last_error=reason)
        )

    @offload
    def record(
        self,
        claimed: Claimed,
        outcome: Outcome,
        policy: RetryPolicy,
        *,
        started_at: datetime | None = None,
        duration_ms: int = 0,
    ) -> str:
        """Write one attempt's result, and the attempt into the delivery's history
        (hub/attempts.py); returns the delivery's new status."""
        attempts = claimed.attempts + 1
        at = now()
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
        }
        if outcome.ok:
            values.update(status="succeeded", delivered_at=at, next_attempt_at=None)
        elif attempts >= policy.max_attempts:
            values.update(status="failed", next_attempt_at=None)
        else:
            values.update(status="pending", next_attempt_at=at + timedelta(seconds=policy.delay(attempts)))
        with self.db.write.begin() as conn:
            # Only a row still ours: pending, and not already recorded by a process whose lease ran out.
            result = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == claimed.id,
                    deliveries.c.status == "pending",
                    deliveries.c.attempts == claimed.attempts,
                )
                .values(**values)
            )
            if result.rowcount:
                write_attempt(
                    conn,
                    claimed.id,
                    attempts,
                    started_at or at,
                    duration_ms,
                    outcome.status_code,
                    outcome.error,
                )
        return str(values["status"])

    @offload
    def next_due(self) -> datetime | None:
        """When the earliest pending row is due (for tests and status pages)."""
        with self.db.read.connect() as conn:
            value: datetime | None = conn.execute(
                select(deliveries.c.next_attempt_at)
                .where(deliveries.c.status == "pending")
                .order_by(deliveries.c.next_attempt_at)
                .limit(1)
            ).scalar_one_or_none()
        return value


class DeliveryWorker:
    def __init__(
        self,
        queue: DeliveryQueue,
        policy: RetryPolicy,
        client: httpx.AsyncClient | None = None,
        *,
        allow_private: bool = False,
        observe: Callable[[str], None] | None = None,
    ) -> None:
        self.queue = queue
        self.policy = policy
        self.allow_private = allow_private
        self.observe = observe  # told each attempt's outcome (the metrics)
        self.client = client  # made by each run when not given, and closed when that run ends
        self._wake = anyio.Event()

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            # Every connection is checked (after DNS, pinned): no loopback, private or metadata address.
            transport=GuardedTransport(allow_private=self.allow_private, setting=ALLOW_PRIVATE_SETTING),
            timeout=httpx.Timeout(self.policy.timeout),
            follow_redirects=False,
            trust_env=False,  # deliveries go where the webhook says, not through the server's proxy
            headers={"User-Agent": USER_AGENT},
        )

    def wake(self) -> None:
        """Look for due rows now rather than at the next poll (a push just queued some)."""
        self._wake.set()

    async def run(self) -> None:
        """Drain the queue until cancelled; a failing round is logged and retried next poll."""
        own = self.client is None
        if self.client is None:
            self.client = self._new_client()
        try:
            while True:
                try:
                    sent = await self.drain_once()
                except Exception:
                    log.exception("webhook delivery round failed")
                    sent = 0
                if sent < self.policy.batch:  # a full batch means more may be due right away
                    await self._idle()
        finally:
            if own:
                with anyio.CancelScope(shield=True):
                    await self.client.aclose()
                self.client = None

    async def _idle(self) -> None:
        with anyio.move_on_after(self.policy.poll_interval):
            await self._wake.wait()
        self._wake = anyio.Event()

    async def drain_once(self) -> int:
        """Claim one batch and send it; returns the number of rows claimed."""
        claimed = await self.queue.claim(self.policy.batch, self.policy.lease)
        if claimed:
            async with anyio.create_task_group() as tasks:
                for item in claimed:
                    tasks.start_soon(self._deliver, item)
        return len(claimed)

    async def _deliver(self, item: Claimed) -> None:
        started_at, clock = now(), time.monotonic()
        outcome = await self.attempt(item)
        duration_ms = int((time.monotonic() - clock) * 1000)
        status = await self.queue.record(
            item, outcome, self.policy, started_at=started_at, duration_ms=duration_ms
        )
        if self.observe is not None:
            self.observe(status)
        log.info(
            "webhook delivery %s: attempt %s -> %s (%s)",
            item.id,
            item.attempts + 1,
            status,
            outcome.status_code if outcome.status_code is not None else outcome.error,
        )

    async def attempt(self, item: Claimed) -> Outcome:
        body = encode(item.payload)
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: item.event,
            DELIVERY_HEADER: str(item.id),
        }
        if item.secret:
            headers[SIGNATURE_HEADER] = sign(item.secret, body)
        client = self.client
        if client is None:
            raise RuntimeError("attempt() needs a running worker or a client of its own")
        try:
            with anyio.fail_after(self.policy.timeout):
                async with client.stream("POST", item.url, content=body, headers=headers) as response:
                    if 200 <= response.status_code < 300:
                        return Outcome(response.status_code, None)
                    return Outcome(response.status_code, _error_text(response))
        except TimeoutError:
            return Outcome(None, f"no response within {self.policy.timeout:g} s")
        except httpx.HTTPError as exc:
            return Outcome(None, _failure(exc))


def _error_text(response: httpx.Response) -> str:
    """``HTTP 500 Internal Server Error`` for the delivery history. The body, and the reason phrase
    the receiver sent, are left out on purpose: a webhook may point anywhere the server can reach,
    and the history must not turn that into a way to read other services' answers."""
    try:
        phrase = HTTPStatus(response.status_code).phrase
    except ValueError:
        phrase = ""
    return f"HTTP {response.status_code} {phrase}".strip()


def _failure(exc: httpx.HTTPError) -> str:
    """Why no response came: the guard's refusal or the system's word, never the receiver's bytes
    (a protocol error would quote what a non-HTTP service said)."""
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.TimeoutException):
        return _clip(f"{name}: {exc}" if str(exc) else name)
    if isinstance(exc, httpx.ProtocolError):
        return f"{name}: the receiver did not answer in HTTP"
    return name


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
