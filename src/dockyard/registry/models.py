"""The registry's operational tables, beside its core ones in ``db/models.py``.

gc_runs     one row per garbage collection (registry/gc.py): when, how, what it freed; a run
            that is still going renews ``heartbeat_at``, so a later run can tell a crashed one
            (whose half-done deletions it then finishes) from a slow one
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.db.models import Base, Timestamp, utcnow


class GcRun(Base):
    __tablename__ = "gc_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow, index=True)
    heartbeat_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    trigger: Mapped[str] = mapped_column(String(16))  # "cli" | "janitor"
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    grace_seconds: Mapped[int] = mapped_column(Integer)
    manifests_deleted: Mapped[int] = mapped_column(Integer, default=0)
    links_deleted: Mapped[int] = mapped_column(Integer, default=0)
    blobs_deleted: Mapped[int] = mapped_column(Integer, default=0)
    bytes_freed: Mapped[int] = mapped_column(BigInteger, default=0)
    uploads_removed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class TagImmutability(Base):
    """Immutable tags of one repository, as on Docker Hub: while the row exists, a push may create
    a tag but never move it. ``rules`` (RE2 expressions matched against the whole tag) limit it to
    some tags; empty means every tag."""

    __tablename__ = "tag_immutability"

    repository_id: Mapped[int] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True
    )
    rules: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class NamespaceQuota(Base):
    """A namespace's storage quota (quotas.py). By name, not key: ``library`` and the namespaces of
    an open registry have no account row."""

    __tablename__ = "namespace_quotas"

    namespace: Mapped[str] = mapped_column(String(255), primary_key=True)
    limit_bytes: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
