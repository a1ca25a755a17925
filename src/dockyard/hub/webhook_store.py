"""A repository's webhooks in the database: URLs and secrets sealed, every change audited.

The URL and the signing secret are sealed with the server's secrets key (dockyard/secretbox.py)
before they are written and opened when read, so the database alone reveals neither; an incoming
webhook URL of Slack, Discord or Teams is itself a bearer secret. Adding and removing a webhook
writes its audit event (``webhook.added``, ``webhook.removed``) in the same transaction; the event
names the webhook and the host it calls, never the URL's path or the secret. Names are unique per
repository (case does not count), so each delivery in the history says which webhook it went to.

Access is the caller's business (HubService checks the viewer's admin rights first).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select

from dockyard.accounts.audit import write_event
from dockyard.accounts.records import EventKind
from dockyard.db.engine import Database, offload
from dockyard.hub.attempts import attempts, hooks_of
from dockyard.hub.errors import AlreadyExists, NotFound
from dockyard.hub.records import Webhook
from dockyard.hub.tables import deliveries, now, utc, webhooks
from dockyard.registry import readmodels
from dockyard.secretbox import SecretBox


class WebhookStore:
    def __init__(self, database: Database, box: SecretBox) -> None:
        self.db = database
        self.box = box

    @offload
    def of_repository(self, repository: str) -> list[Webhook]:
        with self.db.read.connect() as conn:
            rows = conn.execute(
                select(webhooks).where(hooks_of(conn, repository)).order_by(webhooks.c.id)
            ).all()
        return [self._record(row, repository) for row in rows]

    @offload
    def add(self, repository: str, name: str, url: str, secret: str, actor: str | None) -> Webhook:
        with self.db.write.begin() as conn:
            repo_id = readmodels.repository_id(conn, repository)
            if repo_id is None:
                raise NotFound(f"repository {repository!r} not found")
            taken = conn.execute(
                select(webhooks.c.id).where(
                    webhooks.c.repository_id == repo_id, func.lower(webhooks.c.name) == name.lower()
                )
            ).first()
            if taken is not None:  # checked in the write transaction: two adds cannot both pass
                raise AlreadyExists(f"{repository} already has a webhook named {name!r}; pick another name")
            result = conn.execute(
                webhooks.insert().values(
                    repository_id=repo_id,
                    name=name,
                    sealed_url=self.box.seal_text(url),
                    sealed_secret=self.box.seal_text(secret) if secret else None,
                    active=True,
                    created_by=actor,
                    created_at=now(),
                )
            )
            assert result.inserted_primary_key is not None
            hook_id = int(result.inserted_primary_key[0])
            detail = {"webhook_id": hook_id, "name": name, "host": urlsplit(url).hostname}
            write_event(conn, EventKind.WEBHOOK_ADDED, actor=actor, target=repository, detail=detail)
            row = conn.execute(select(webhooks).where(webhooks.c.id == hook_id)).one()
        return self._record(row, repository)

    @offload
    def remove(self, repository: str, webhook_id: int, actor: str | None) -> bool:
        """The webhook and its delivery history; False when the repository has no such webhook."""
        with self.db.write.begin() as conn:
            row = conn.execute(
                select(webhooks.c.id, webhooks.c.name).where(
                    webhooks.c.id == webhook_id, hooks_of(conn, repository)
                )
            ).first()
            if row is None:
                return False
            sent = select(deliveries.c.id).where(deliveries.c.webhook_id == webhook_id)
            conn.execute(delete(attempts).where(attempts.c.delivery_id.in_(sent)))
            conn.execute(delete(deliveries).where(deliveries.c.webhook_id == webhook_id))
            conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))
            detail = {"webhook_id": webhook_id, "name": row.name}
            write_event(conn, EventKind.WEBHOOK_REMOVED, actor=actor, target=repository, detail=detail)
            return True

    def _record(self, row: Any, repository: str) -> Webhook:
        return Webhook(
            id=row.id,
            repository=repository,
            name=row.name,
            url=self.box.open_text(row.sealed_url),
            active=bool(row.active),
            created_at=utc(row.created_at),
            created_by=row.created_by,
            secret=self.box.open_text(row.sealed_secret) if row.sealed_secret is not None else "",
        )
