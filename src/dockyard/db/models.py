"""Metadata. Blob bytes live in storage; everything that names them lives here.

Registry tables (repositories, blobs, manifests, tags) and the accounts domain's tables
(namespaces, users, organizations, teams, access tokens, audit events). A namespace is the
first component of a repository name and belongs to a user or an organisation; one table of
names keeps Docker IDs unique across both.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Timestamp(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend. PostgreSQL keeps the instant itself
    (timestamptz); SQLite keeps text without an offset, so values are stored in UTC and read
    back as UTC (a naive value going in is taken to be UTC already)."""

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _namespace_of(context: DefaultExecutionContext) -> str:
    """The first component of the inserted name, so every insert path fills ``namespace``."""
    name: str = context.get_current_parameters()["name"]  # type: ignore[no-untyped-call]
    return name.split("/", 1)[0]


def _created_at(context: DefaultExecutionContext) -> datetime:
    """``updated_at`` of a new repository: its creation time."""
    created: datetime | None = context.get_current_parameters().get("created_at")  # type: ignore[no-untyped-call]
    return created or utcnow()


class Repository(Base):
    """A repository. The listing columns (namespace, the counters, updated_at) are copies kept
    on the row so the database can order and page listings by an index: a listing sorted by
    pulls over a joined statistics table has to read and sort every row first."""

    __tablename__ = "repositories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    pushed_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    # Derived from name (the first component).
    namespace: Mapped[str] = mapped_column(String(255), default=_namespace_of, server_default="")
    is_private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    description: Mapped[str] = mapped_column(String(100), default="", server_default="")
    full_description: Mapped[str] = mapped_column(Text, default="", server_default="")
    # A username, not a key: the repository outlives nothing it points at.
    created_by: Mapped[str | None] = mapped_column(String(30), nullable=True)
    # The last push, else the creation: "recently updated" order. The registry sets it with pushed_at.
    updated_at: Mapped[datetime] = mapped_column(
        Timestamp(), default=_created_at, server_default="1970-01-01 00:00:00"
    )
    # Kept by the hub in the transaction that records pulls and stars (hub/activity.py, stars).
    pull_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    star_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


def _listing_index(name: str, *order: str) -> Index:
    """An index that hands a listing its rows already in order, the visibility check included:
    ``name`` breaks ties, ``is_private`` lets anonymous listings filter without the table.
    "-x" is descending. Never led by is_private: SQLite would then prefer the equality and sort."""
    table = Repository.__table__.c
    columns = [table[c[1:]].desc() if c.startswith("-") else table[c] for c in order]
    return Index(name, *columns, table.name, table.is_private)


_listing_index("ix_repositories_pulls", "-pull_count", "-star_count")
_listing_index("ix_repositories_stars", "-star_count", "-pull_count")
_listing_index("ix_repositories_updated", "-updated_at")
_listing_index("ix_repositories_namespace_name", "namespace")
_listing_index("ix_repositories_namespace_pulls", "namespace", "-pull_count", "-star_count")
_listing_index("ix_repositories_namespace_stars", "namespace", "-star_count", "-pull_count")
_listing_index("ix_repositories_namespace_updated", "namespace", "-updated_at")
# Search matches substrings, which no B-tree can seek: it scans this index, not the table (whose
# rows carry the README), and ranks from it alone.
Index(
    "ix_repositories_search",
    *(
        Repository.__table__.c[c]
        for c in ("description", "name", "namespace", "is_private", "star_count", "pull_count")
    ),
)


class Blob(Base):
    __tablename__ = "blobs"

    digest: Mapped[str] = mapped_column(String(200), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    # Garbage collection (registry/gc.py, registry/ledger.py): the last upload, mount, link or
    # HEAD of the blob (NULL: created_at), and the collector run deleting it, while one does.
    touched_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    sweep_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)


class RepositoryBlob(Base):
    """A link: the repository may serve this blob."""

    __tablename__ = "repository_blobs"
    # By digest alone: the collector's mark and "which repositories hold this blob" (mounts, quotas).
    __table_args__ = (Index("ix_repository_blobs_digest", "digest"),)

    repository_id: Mapped[int] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(ForeignKey("blobs.digest"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class Manifest(Base):
    __tablename__ = "manifests"
    __table_args__ = (
        UniqueConstraint("repository_id", "digest"),
        Index("ix_manifests_subject", "repository_id", "subject_digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(255))
    artifact_type: Mapped[str | None] = mapped_column(String(255), nullable=True)
    subject_digest: Mapped[str | None] = mapped_column(String(200), nullable=True)
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class ManifestReference(Base):
    """What a manifest points at: layers and config (blobs) or child manifests."""

    __tablename__ = "manifest_references"
    __table_args__ = (Index("ix_manifest_references_digest", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    manifest_id: Mapped[int] = mapped_column(ForeignKey("manifests.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # "blob" | "manifest"
    media_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    platform_os: Mapped[str | None] = mapped_column(String(64), nullable=True)
    platform_architecture: Mapped[str | None] = mapped_column(String(64), nullable=True)
    platform_variant: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("repository_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    manifest_id: Mapped[int] = mapped_column(ForeignKey("manifests.id", ondelete="CASCADE"), index=True)
    updated_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


# -- accounts -------------------------------------------------------------------------------------


class Namespace(Base):
    """A Docker ID: the name of a user or an organisation, unique across both."""

    __tablename__ = "namespaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    # "user" | "org" | "retired": a deleted account's name stays taken, so nobody can claim it and
    # receive the pulls and pushes meant for the old owner (Docker Hub never reuses names either).
    kind: Mapped[str] = mapped_column(String(8))
    # Visibility of repositories created by a push into this namespace.
    default_private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"), unique=True)
    email: Mapped[str] = mapped_column(String(254), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    # Bound into every session and token a password login issues; a password change (or disabling
    # the account) increments it, and whatever carries an older value stops working.
    credentials_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set while the account is disabled: no login on any door, no session, token or PAT works.
    disabled_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    # The profile people fill in on /settings/general and others see on /u/NAME.
    full_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    location: Mapped[str] = mapped_column(String(100), default="", server_default="")
    company: Mapped[str] = mapped_column(String(100), default="", server_default="")
    website: Mapped[str] = mapped_column(String(255), default="", server_default="")


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class OrganizationMember(Base):
    """A member of an organisation. Owners are the members in its "owners" team; a member in no
    team holds nothing but the right to see the organisation's members and teams."""

    __tablename__ = "organization_members"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class RepositoryCollaborator(Base):
    """A user given read, write or admin on one repository of someone else's personal namespace
    (Docker Hub's collaborators). Goes with the repository and with the user."""

    __tablename__ = "repository_collaborators"

    repository_id: Mapped[int] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    permission: Mapped[str] = mapped_column(String(8))  # "read" | "write" | "admin"
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class TeamPermission(Base):
    """What a team may do on one repository of its organisation."""

    __tablename__ = "team_permissions"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    permission: Mapped[str] = mapped_column(String(8))  # "read" | "write" | "admin"
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class AccessToken(Base):
    """A personal access token. Only a SHA-256 of the token is kept; ``lookup`` is its non-secret
    leading part, unique, so verification is one indexed read."""

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[str] = mapped_column(String(100))  # space-separated
    lookup: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)


class RateLimitHit(Base):
    """One counted act (a sign-up from an address, a repository made by a user) under a limit key.

    A sliding window: the acts under a key within the window are counted, and there are never
    more of them than the limit, so the count reads a handful of index entries. Rows older than
    the window are deleted as the key is used again.
    """

    __tablename__ = "rate_limit_hits"
    __table_args__ = (Index("ix_rate_limit_hits_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160))
    at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_kind_id", "kind", "id"),
        Index("ix_audit_events_actor_id", "actor", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    target: Mapped[str | None] = mapped_column(String(255), nullable=True)
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
