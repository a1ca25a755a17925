"""The accounts domain's handlers of the registry's outbox events (registered by services.py):
the audit rows of pushes and deletions, written in the dispatcher's transaction, and the access
rules of a deleted repository.

    manifest.pushed      audit "push"     (actor, ip, repository, tag or digest)
    tag.deleted          audit "delete"
    manifest.deleted     audit "delete"
    repository.deleted   audit "repository.deleted"; its team permissions and collaborators go
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.engine import Connection

from dockyard.accounts._queries import collaborators, permissions
from dockyard.accounts.audit import AuditRow, write_event, write_events
from dockyard.accounts.records import EventKind
from dockyard.events import Event
from dockyard.registry import views
from dockyard.registry.events import ManifestDeleted, ManifestPushed, RepositoryDeleted
from dockyard.registry.reference import is_digest


def pushed(conn: Connection, events: Sequence[Event]) -> None:
    """A run of pushes: their audit rows in one ``executemany``."""
    write_events(conn, [_push_row(ManifestPushed.of(event)) for event in events])


def _push_row(push: ManifestPushed) -> AuditRow:
    detail: dict[str, str] = {"tag": push.tags[0]} if push.tags else {}
    detail.update(digest=push.digest, resource="manifests")
    return AuditRow(EventKind.PUSH, actor=push.actor, ip=push.ip, target=push.repository, detail=detail)


def deleted(conn: Connection, event: Event) -> None:
    gone = ManifestDeleted.of(event)
    detail = {"digest" if is_digest(gone.reference) else "tag": gone.reference, "resource": "manifests"}
    write_event(conn, EventKind.DELETE, actor=gone.actor, ip=gone.ip, target=gone.repository, detail=detail)


def repository_deleted(conn: Connection, event: Event) -> None:
    gone = RepositoryDeleted.of(event)
    write_event(conn, EventKind.REPOSITORY_DELETED, actor=gone.actor, target=gone.repository, detail={})
    if views.repository_card(conn, gone.repository_id) is not None:
        return  # the id belongs to a repository created since (SQLite may reuse it): leave its rules
    for table in (permissions, collaborators):
        conn.execute(delete(table).where(table.c.repository_id == gone.repository_id))
