"""Deleted repositories' names and when they went: a repository delete wins over pushes that began
before it.

A push credential outlives the moment it was issued: a build's registry token lives as long as the
build may take (builds/pushauth.py), a client's for minutes. Without a record of the deletion, a
build that was running when its repository was deleted (its link and builds go in the builds'
handler of ``repository.deleted``, its worker stops only at its next lease renewal) pushes on and
recreates the repository. So ``delete_repository`` buries the name in the same transaction, and
creating a repository for a push asks ``deleted_after(conn, name, issued_at)`` with the time the
push's token was issued (accounts/repositories.py, called by the registry guard): a token from
before the deletion may not bring the repository back; a new one may.

Tombstones are kept a day (``KEEP``), longer than any token lives (``MAX_TTL`` in pushauth), and
pruned by the next deletion. Token times are whole seconds (JWT ``iat``), so a deletion in the
same second as the token's issue does not count against it: the check refuses only tokens issued
at least a second before the deletion.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import String, Table, delete, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.db.models import Base, Timestamp

KEEP = timedelta(days=1)
RESOLUTION = timedelta(seconds=1)  # of a token's issue time


class RepositoryTombstone(Base):
    __tablename__ = "repository_tombstones"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    deleted_at: Mapped[datetime] = mapped_column(Timestamp(), index=True)


tombstones = cast(Table, RepositoryTombstone.__table__)


def bury(conn: Connection, name: str, at: datetime) -> None:
    """Record the deletion of ``name`` (inside the deleting transaction); prune old ones."""
    gone = (tombstones.c.name == name) | (tombstones.c.deleted_at < at - KEEP)
    conn.execute(delete(tombstones).where(gone))
    conn.execute(tombstones.insert().values(name=name, deleted_at=at))


def deleted_after(conn: Connection, name: str, issued_at: datetime) -> bool:
    """Whether ``name`` was deleted after a token issued at ``issued_at`` (whole seconds)."""
    query = select(tombstones.c.deleted_at).where(tombstones.c.name == name)
    found: datetime | None = conn.execute(query).scalar_one_or_none()
    if found is None:
        return False
    deleted = found if found.tzinfo is not None else found.replace(tzinfo=UTC)
    return deleted >= issued_at + RESOLUTION
