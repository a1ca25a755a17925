"""Build events for a repository's webhooks, queued as deliveries like its pushes.

The builds domain writes a ``build.state`` outbox event inside the transaction that moves a build
(builds/events.py); the dispatcher runs ``BuildWebhooks.handle`` on it:

    queued --claim--> building          build_started
    building|pushing --> success        build_succeeded
                     --> failed         build_failed
                     --> canceled       build_canceled

Each active webhook of the repository gets one ``webhook_deliveries`` row (event = the name above,
payload from ``webhooks.build_payload``); the hub's DeliveryWorker sends them, signed, as it sends
pushes. The build worker only writes rows; whichever process has the ``webhooks`` role delivers them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.engine import Connection

from dockyard.events import Event
from dockyard.hub import webhooks as payloads
from dockyard.hub.tables import deliveries, now, stars, webhooks
from dockyard.registry import views

EVENTS = {
    "building": "build_started",
    "success": "build_succeeded",
    "failed": "build_failed",
    "canceled": "build_canceled",
}


class BuildWebhooks:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def handle(self, conn: Connection, event: Event) -> None:
        """The outbox's ``build.state`` handler (the builds domain writes the event)."""
        self(conn, event.payload)

    def __call__(self, conn: Connection, build: Mapping[str, Any]) -> int:
        """Queue the event of ``build``'s current state for the repository's webhooks; how many."""
        event = EVENTS.get(str(build.get("state")))
        if event is None:
            return 0
        repo = views.repository_card_by_name(conn, str(build["repository"]))
        if repo is None:
            return 0
        hooks = (
            conn.execute(
                select(webhooks.c.id).where(webhooks.c.repository_id == repo.id, webhooks.c.active == true())
            )
            .scalars()
            .all()
        )
        if not hooks:
            return 0
        star_count = conn.execute(
            select(func.count()).select_from(stars).where(stars.c.repository_id == repo.id)
        ).scalar_one()
        repository = payloads.repository_data(
            base_url=self.base_url,
            repository=repo.name,
            created_at=repo.created_at,
            description=repo.description,
            full_description=repo.full_description,
            is_private=repo.is_private,
            star_count=int(star_count),
        )
        at = now()
        conn.execute(
            deliveries.insert(),
            [
                {
                    "webhook_id": hook_id,
                    "event": event,
                    "payload": payloads.build_payload(
                        base_url=self.base_url,
                        webhook_id=hook_id,
                        event=event,
                        build=dict(build),
                        repository=repository,
                    ),
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": at,
                    "created_at": at,
                }
                for hook_id in hooks
            ],
        )
        return len(hooks)
