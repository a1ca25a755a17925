"""Webhook deliveries as the Webhooks settings tab shows them: each delivery's payload and the
history of its attempts, a test delivery, and redelivering an earlier one.

    write_attempt(conn, ...)       the delivery worker records each attempt (hub/delivery.py), in
                                   the transaction that records its outcome on the delivery
    DeliveryLog.detail             one delivery with its payload and every attempt, oldest first
    DeliveryLog.queue_ping         a "ping" delivery to one webhook, sent like any other
    DeliveryLog.redeliver          a new delivery of an earlier one's event and payload

An attempt keeps when it started, how long it took, and the status code or why no response came.
Never the receiver's body: a webhook may point anywhere the server can reach, and the history must
not become a way to read what other services answer (hub/delivery.py).

Access is the caller's business (HubService checks the viewer's admin rights on the repository).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from dockyard.db.engine import Database, offload
from dockyard.hub import models
from dockyard.hub import webhooks as payloads
from dockyard.hub.errors import NotFound
from dockyard.hub.records import Delivery
from dockyard.hub.tables import aware, deliveries, now, stars, utc, webhooks
from dockyard.registry import readmodels, views

attempts = cast(Table, models.WebhookAttempt.__table__)
PING = "ping"
MAX_ATTEMPTS_SHOWN = 100


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class DeliveryDetail:
    delivery: Delivery
    attempts: tuple[Attempt, ...]


def hooks_of(conn: Connection, repository: str) -> ColumnElement[bool]:
    """The webhooks of the repository named (none when there is no such repository)."""
    return webhooks.c.repository_id == (readmodels.repository_id(conn, repository) or 0)  # ids start at 1


def write_attempt(
    conn: Connection,
    delivery_id: int,
    number: int,
    started_at: datetime,
    duration_ms: int,
    status_code: int | None,
    error: str | None,
) -> None:
    conn.execute(
        attempts.insert().values(
            delivery_id=delivery_id,
            number=number,
            started_at=started_at,
            duration_ms=max(0, duration_ms),
            status_code=status_code,
            error=error,
        )
    )


def ping_payload(
    base_url: str, webhook_id: int, hook_name: str, repo: Any, star_count: int
) -> dict[str, Any]:
    """What a test delivery carries: no push_data (a receiver that deploys on pushes does nothing),
    the webhook's name, and the same ``repository`` block as every payload."""
    return {
        "callback_url": f"{base_url}/r/{repo.name}/hook/{webhook_id}",
        "ping": {"webhook": hook_name, "sent_at": int(now().timestamp())},
        "repository": payloads.repository_data(
            base_url=base_url,
            repository=repo.name,
            created_at=utc(repo.created_at),
            description=repo.description,
            full_description=repo.full_description,
            is_private=bool(repo.is_private),
            star_count=star_count,
        ),
    }


class DeliveryLog:
    def __init__(self, database: Database, base_url: str) -> None:
        self.db = database
        self.base_url = base_url

    @offload
    def detail(self, repository: str, delivery_id: int) -> DeliveryDetail:
        with self.db.read.connect() as conn:
            row = conn.execute(
                select(deliveries, webhooks.c.name.label("webhook_name"))
                .select_from(deliveries.join(webhooks))
                .where(deliveries.c.id == delivery_id, hooks_of(conn, repository))
            ).first()
            if row is None:
                raise NotFound(f"no delivery {delivery_id} on {repository}")
            found = conn.execute(
                select(attempts)
                .where(attempts.c.delivery_id == delivery_id)
                .order_by(attempts.c.id)
                .limit(MAX_ATTEMPTS_SHOWN)
            ).all()
        history = tuple(
            Attempt(a.number, utc(a.started_at), a.duration_ms, a.status_code, a.error) for a in found
        )
        return DeliveryDetail(delivery_record(row), history)

    @offload
    def queue_ping(self, repository: str, webhook_id: int) -> int:
        """Queue a test delivery; returns its id."""
        with self.db.write.begin() as conn:
            hook = self._hook(conn, repository, webhook_id)
            repo = views.repository_card_by_name(conn, repository)
            if repo is None:
                raise NotFound(f"no webhook {webhook_id} on {repository}")
            count = conn.execute(
                select(func.count()).select_from(stars).where(stars.c.repository_id == repo.id)
            ).scalar_one()
            payload = ping_payload(self.base_url, hook.id, hook.name, repo, int(count))
            return _queue(conn, hook.id, PING, payload)

    @offload
    def redeliver(self, repository: str, delivery_id: int) -> int:
        """Queue the event and payload of an earlier delivery again, as a new delivery (so each
        keeps its own attempts); returns its id."""
        with self.db.write.begin() as conn:
            row = conn.execute(
                select(deliveries.c.webhook_id, deliveries.c.event, deliveries.c.payload)
                .select_from(deliveries.join(webhooks))
                .where(deliveries.c.id == delivery_id, hooks_of(conn, repository))
            ).first()
            if row is None:
                raise NotFound(f"no delivery {delivery_id} on {repository}")
            self._hook(conn, repository, row.webhook_id)
            return _queue(conn, row.webhook_id, row.event, dict(row.payload or {}))

    @staticmethod
    def _hook(conn: Connection, repository: str, webhook_id: int) -> Any:
        hook = conn.execute(
            select(webhooks.c.id, webhooks.c.name, webhooks.c.active).where(
                webhooks.c.id == webhook_id, hooks_of(conn, repository)
            )
        ).first()
        if hook is None:
            raise NotFound(f"no webhook {webhook_id} on {repository}")
        return hook


def _queue(conn: Connection, webhook_id: int, event: str, payload: dict[str, Any]) -> int:
    at = now()
    result = conn.execute(
        deliveries.insert().values(
            webhook_id=webhook_id,
            event=event,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=at,
            created_at=at,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def delivery_record(row: Any) -> Delivery:
    """A ``webhook_deliveries`` row, joined with its webhook's name, as a record."""
    payload = row.payload if isinstance(row.payload, dict) else {}
    return Delivery(
        id=row.id,
        webhook_id=row.webhook_id,
        webhook_name=row.webhook_name,
        event=row.event,
        status=row.status,
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=utc(row.created_at),
        next_attempt_at=aware(row.next_attempt_at),
        delivered_at=aware(row.delivered_at),
        payload=payload,
    )
