"""The builds domain's handler of ``repository.deleted`` (registered by services.py), run in the
outbox dispatcher's transaction: the repository's link goes, with its rules, its webhook secret
and trigger token, and its builds (queued ones never run; a running one loses its lease and
stops). So no later git push, trigger or queued build recreates the deleted repository: a hook
for the old link finds no link and answers as for one that never existed.

The link is keyed by name (a link may be made before the first push creates the repository), so
a link made again for the name after the deletion (its id is newer than the event) stays.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.engine import Connection

from dockyard.accounts.audit import write_event
from dockyard.accounts.records import EventKind
from dockyard.builds.models import Build, BuildLink, BuildLogLine, BuildRule
from dockyard.builds.source_secrets import source_host
from dockyard.events import Event
from dockyard.registry.events import RepositoryDeleted

links = cast(Table, BuildLink.__table__)
rules = cast(Table, BuildRule.__table__)
builds = cast(Table, Build.__table__)
log_lines = cast(Table, BuildLogLine.__table__)


def repository_deleted(conn: Connection, event: Event) -> None:
    gone = RepositoryDeleted.of(event)
    link = conn.execute(
        select(links.c.id, links.c.source_url, links.c.created_at).where(
            links.c.repository == gone.repository
        )
    ).first()
    if link is None:
        return
    created = link.created_at
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=gone.at.tzinfo)
    if created is not None and created > gone.at:
        return  # linked again after the deletion
    of_link = select(builds.c.id).where(builds.c.link_id == link.id)
    # Children first and explicitly, so it holds where the database ignores ON DELETE CASCADE.
    conn.execute(delete(log_lines).where(log_lines.c.build_id.in_(of_link)))
    conn.execute(delete(builds).where(builds.c.link_id == link.id))
    conn.execute(delete(rules).where(rules.c.link_id == link.id))
    conn.execute(delete(links).where(links.c.id == link.id))
    write_event(
        conn,
        EventKind.BUILD_UNLINKED,
        actor=gone.actor,
        target=gone.repository,
        detail={"host": source_host(link.source_url), "reason": "repository deleted"},
    )
