"""The proxy's tables, on the shared metadata.

A proxy namespace is a row here plus a namespace of kind "proxy" (or an existing organisation,
whose members may then pull from a private proxy), so no account can take its name. What it has
cached lives in the registry's own tables (repositories, manifests, tags, blob links), like any
other content; ``proxy_tag_checks`` remembers when each cached tag was last compared with the
upstream, for the tag's TTL, and ``proxy_pulls`` when each cached manifest was last pulled, for
least-recently-pulled eviction under the namespace's size limit.

Upstream credentials are sealed (``dockyard/secretbox.py``): the proxy sends them on every
upstream login, so a hash would not do.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.db.models import Base, Timestamp, utcnow


class ProxyNamespace(Base):
    __tablename__ = "proxy_namespaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(30), unique=True)
    upstream_url: Mapped[str] = mapped_column(String(2048))
    # {"username": ..., "password": ...} sealed; NULL: anonymous.
    sealed_credentials: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    ttl_seconds: Mapped[int] = mapped_column(Integer)
    is_private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The instance mirror (at most one): names Dockyard does not hold are pulled through it and
    # cached under this namespace (``mirror/library/alpine`` for ``library/alpine``).
    is_mirror: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    hits: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    misses: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    last_checked_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    # Cached blobs beyond this evict the least recently pulled manifests; NULL: no limit.
    size_limit_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ProxyTagCheck(Base):
    """When a cached tag was last found current upstream (by HEAD or GET)."""

    __tablename__ = "proxy_tag_checks"

    repository: Mapped[str] = mapped_column(String(255), primary_key=True)
    tag: Mapped[str] = mapped_column(String(128), primary_key=True)
    digest: Mapped[str] = mapped_column(String(100))
    checked_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class ProxyPull(Base):
    """When a cached manifest was last served (pulled by tag or digest, GET or HEAD)."""

    __tablename__ = "proxy_pulls"
    __table_args__ = (Index("ix_proxy_pulls_namespace_last_pulled_at", "namespace", "last_pulled_at"),)

    repository: Mapped[str] = mapped_column(String(255), primary_key=True)
    digest: Mapped[str] = mapped_column(String(100), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(30))
    last_pulled_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
