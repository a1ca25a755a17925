"""The hub's tables, on the shared metadata: stars, pull statistics, tag push metadata,
webhooks with their persistent delivery queue and each delivery's attempts, and the settings
administrators change on the admin pages (the web sessions are the web layer's: web/models.py).

Registry rows (repositories, tags) are referenced by key and cascade on delete, so removing a
repository removes its stars, statistics, webhooks and deliveries too. Tag metadata is keyed by
(repository, tag name), not by the registry's tag row: a tag deleted and pushed again keeps its
pull history, as on Docker Hub.

A webhook's URL and secret are sealed (Fernet, dockyard/secretbox.py) with the server's key, which
lives outside the database: the hub needs the secret itself to sign each delivery (HMAC-SHA256), so
a hash would not do, and URLs often carry a bearer secret of their own (Slack, Discord, Teams).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.db.models import Base, Timestamp, utcnow


class Star(Base):
    __tablename__ = "stars"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class RepositoryStats(Base):
    """When a repository was last pulled (a manifest GET is a pull; HEADs are not). Its pull count
    is on the repository's row, where listings order by it."""

    __tablename__ = "repository_stats"

    repository_id: Mapped[int] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True
    )
    last_pulled_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)


class TagActivity(Base):
    """Per tag name: who pushed it first and last, when, and when it was last pulled."""

    __tablename__ = "tag_activity"

    repository_id: Mapped[int] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_pushed_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    pusher: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Who pushed the tag first (Docker Hub's ``creator``); ``pusher`` is the last one.
    creator: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_pulled_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    pull_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ManifestActivity(Base):
    """Per manifest digest (each platform image of an index too): last pushed and last pulled."""

    __tablename__ = "manifest_activity"

    repository_id: Mapped[int] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_pushed_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    last_pulled_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    sealed_url: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # None: unsigned
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class WebhookDelivery(Base):
    """One event for one webhook: the persistent queue a delivery worker drains.

    status: "pending" (waiting for next_attempt_at), "succeeded", "failed" (gave up).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_id", "webhook_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32), default="push", server_default="push")
    payload: Mapped[dict[str, object]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True, default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)


class WebhookAttempt(Base):
    """One attempt to send a delivery: when, how long, and what came back (the status code, or
    why nothing did). The receiver's body is never kept (hub/delivery.py says why)."""

    __tablename__ = "webhook_delivery_attempts"
    __table_args__ = (Index("ix_webhook_delivery_attempts_delivery_id", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 1 for the first attempt
    started_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class SiteSetting(Base):
    """A setting administrators change on the admin pages; it overrides the DOCKYARD_* default."""

    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
