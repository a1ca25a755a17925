"""Tables of the builds domain, on the shared metadata.

A link ties a repository (by name, like ``created_by`` elsewhere: a link may be made before the
first push creates the repository) to a git source. Rules say which refs build and how; each
build snapshots its rule, so editing a rule never changes a build already queued. Log lines are
rows, so every server process can stream any build's log, whichever worker runs it.

Credentials, the webhook secret and variables are Fernet tokens (see secrets.py); the trigger
token is stored as its SHA-256.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
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


class BuildLink(Base):
    __tablename__ = "build_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository: Mapped[str] = mapped_column(String(255), unique=True)
    source_url: Mapped[str] = mapped_column(String(1024))
    # Encrypted JSON: {"username", "password"} or {"ssh_key"}; None for public sources.
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    webhook_secret: Mapped[bytes] = mapped_column(LargeBinary)
    trigger_token_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(30), nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class BuildRule(Base):
    __tablename__ = "build_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("build_links.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    source_type: Mapped[str] = mapped_column(String(8))  # "branch" | "tag"
    source_name: Mapped[str] = mapped_column(String(255))  # literal or /regex/
    docker_tag: Mapped[str] = mapped_column(String(255))  # literal or template
    dockerfile: Mapped[str] = mapped_column(String(1024), default="Dockerfile")
    context: Mapped[str] = mapped_column(String(1024), default=".")
    autobuild: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    build_cache: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Encrypted JSON list of {"name", "value", "secret", "kind": "arg" | "env"}.
    variables: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class Build(Base):
    __tablename__ = "builds"
    __table_args__ = (
        Index("ix_builds_state_id", "state", "id"),
        Index("ix_builds_repository_id", "repository", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("build_links.id", ondelete="CASCADE"), index=True)
    repository: Mapped[str] = mapped_column(String(255))
    trigger: Mapped[str] = mapped_column(String(16))  # github | gitlab | url | manual
    source_type: Mapped[str] = mapped_column(String(8))
    source_ref: Mapped[str] = mapped_column(String(255))  # branch or tag name
    commit: Mapped[str] = mapped_column(String(64))
    commit_message: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON)
    # The rule as it was when queued: dockerfile, context, build_cache, variables (encrypted).
    dockerfile: Mapped[str] = mapped_column(String(1024))
    context: Mapped[str] = mapped_column(String(1024))
    build_cache: Mapped[bool] = mapped_column(Boolean, default=True)
    variables: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    state: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    digest: Mapped[str | None] = mapped_column(String(200), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    queued_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    pushing_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)


class BuildLogLine(Base):
    __tablename__ = "build_log_lines"

    build_id: Mapped[int] = mapped_column(ForeignKey("builds.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    text: Mapped[str] = mapped_column(Text)
