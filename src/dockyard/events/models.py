"""The ``events`` table: one row per event not yet handled.

A row lives from the commit of the change it describes until the transaction that ran its
handlers; ``attempts`` and ``retry_at`` are set only when a handler failed on it, so a poison row
waits (with back-off) instead of blocking the rows behind it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.db.models import Base, Timestamp, utcnow


class OutboxEvent(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_retry_at_id", "retry_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, object]] = mapped_column(JSON)
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # None: due now. Set after a failed attempt: not before then.
    retry_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
