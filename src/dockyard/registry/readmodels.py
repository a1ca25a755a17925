"""Read models of a repository's contents for the packages above (the hub's Tags, image and admin
pages), inside the caller's connection: records out, never the registry's tables.

    repository_id(conn, name)                         its id, None when there is none
    tag_page(conn, repo_id, ordering, ...)            a page of tags, ordered and keyset-paged in SQL
    index_children(conn, repo_id, digests)            the platform descriptors of indexes
    images(conn, repo_id, digests)                    image manifests: blob sizes, config digest
    tags_on(conn, repo_id, digest)                    the tags that point at a digest
    indexes_holding(conn, repo_id, digest)            the indexes that list a digest
    namespace_usage(conn) / repository_counts(...)    repositories and distinct blob bytes per namespace
    repositories_within(conn, target)                 the repositories of a namespace, or one by name
    tagged(conn, repo_id)                             every tag with its digest (retention's candidates)
    untagged_manifests(conn, repo_id, before)         manifests no tag, index or subject keeps
    manifest_ids_within(conn, namespaces)             every manifest of these namespaces (the proxy's)

Sizes are added up in Python, not with SQL's SUM: Python's integers cannot overflow, whatever sizes
manifests stored before sizes were checked against the blobs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import exists, func, or_, select
from sqlalchemy.engine import Connection

from dockyard.db.keyset import Cursors, Keyset
from dockyard.registry.store import blobs, links, manifests, references, repositories, tags

CONFIG_TYPES = frozenset(
    {"application/vnd.docker.container.image.v1+json", "application/vnd.oci.image.config.v1+json"}
)
TagOrder = Literal["name", "-name", "last_pushed", "-last_pushed"]


@dataclass(frozen=True, slots=True)
class TagRecord:
    id: int
    name: str
    updated_at: datetime
    digest: str
    media_type: str


@dataclass(frozen=True, slots=True)
class TagPage:
    tags: list[TagRecord]
    count: int  # every tag that matches, not only this page
    cursors: Cursors  # where the pages beside this one start


@dataclass(frozen=True, slots=True)
class ChildDescriptor:
    """A manifest an index lists, with the platform the index gives it (None when it gives none)."""

    parent: str
    digest: str
    media_type: str
    os: str | None
    architecture: str | None
    variant: str | None


@dataclass(frozen=True, slots=True)
class ImageManifest:
    digest: str
    media_type: str
    created_at: datetime
    size: int  # compressed: config and layers
    config_digest: str | None


@dataclass(frozen=True, slots=True)
class NamespaceUsage:
    namespace: str
    repositories: int
    blobs: int  # distinct blobs linked by the namespace's repositories
    size: int


@dataclass(frozen=True, slots=True)
class RepositoryRef:
    id: int
    name: str
    namespace: str


@dataclass(frozen=True, slots=True)
class TaggedDigest:
    name: str
    updated_at: datetime
    digest: str


@dataclass(frozen=True, slots=True)
class UntaggedManifest:
    id: int
    digest: str
    pushed_at: datetime


def repository_id(conn: Connection, name: str) -> int | None:
    found = conn.execute(select(repositories.c.id).where(repositories.c.name == name)).scalar_one_or_none()
    return None if found is None else int(found)


def tag_order(ordering: TagOrder, conn: Connection) -> Keyset:
    """The order, ended by the name (unique in a repository), as a keyset for the pages."""
    # Byte order on both databases (PostgreSQL's default collation would sort "B" after "a").
    name = tags.c.name.collate("C" if conn.dialect.name == "postgresql" else "BINARY")
    order: tuple[Any, ...]
    if ordering == "name":
        order = (name,)
    elif ordering == "-name":
        order = (name.desc(),)
    elif ordering == "last_pushed":
        order = (tags.c.updated_at, name)
    else:
        order = (tags.c.updated_at.desc(), name.desc())
    return Keyset(ordering, order)


def tag_page(
    conn: Connection,
    repo_id: int,
    ordering: TagOrder,
    *,
    contains: str = "",
    exact: str | None = None,
    cursor: str | None = None,
    offset: int = 0,
    limit: int = 25,
) -> TagPage:
    """Tags whose name is ``exact`` or contains ``contains``, ordered, one page: in SQL, after or
    before ``cursor`` when given (``InvalidCursor`` when it is not one of this ordering's), else
    after ``offset`` tags (a jump to a page number)."""
    where = [tags.c.repository_id == repo_id]
    if exact is not None:
        where.append(tags.c.name == exact)
    elif contains:
        where.append(tags.c.name.contains(contains, autoescape=True))
    query = (
        select(tags.c.id, tags.c.name, tags.c.updated_at, manifests.c.digest, manifests.c.media_type)
        .select_from(tags.join(manifests, tags.c.manifest_id == manifests.c.id))
        .where(*where)
    )
    query, window = tag_order(ordering, conn).page(query, conn, cursor=cursor, offset=offset, limit=limit)
    rows, cursors = window.cut(conn.execute(query).all())
    found = [TagRecord(int(r.id), r.name, _utc(r.updated_at), r.digest, r.media_type) for r in rows]
    count = conn.execute(select(func.count()).select_from(tags).where(*where)).scalar_one()
    return TagPage(found, int(count), cursors)


def index_children(conn: Connection, repo_id: int, digests: Iterable[str]) -> list[ChildDescriptor]:
    wanted = list(digests)
    if not wanted:
        return []
    query = (
        select(
            manifests.c.digest.label("parent"),
            references.c.digest,
            references.c.media_type,
            references.c.platform_os,
            references.c.platform_architecture,
            references.c.platform_variant,
        )
        .select_from(references.join(manifests, references.c.manifest_id == manifests.c.id))
        .where(
            manifests.c.repository_id == repo_id,
            manifests.c.digest.in_(wanted),
            references.c.kind == "manifest",
        )
        .order_by(references.c.id)
    )
    return [ChildDescriptor(*row) for row in conn.execute(query).all()]


def images(conn: Connection, repo_id: int, digests: Collection[str]) -> dict[str, ImageManifest]:
    """The repository's manifests of those digests, with their blobs' size and config digest."""
    if not digests:
        return {}
    rows = conn.execute(
        select(manifests.c.id, manifests.c.digest, manifests.c.media_type, manifests.c.created_at).where(
            manifests.c.repository_id == repo_id, manifests.c.digest.in_(list(digests))
        )
    ).all()
    ids = [row.id for row in rows]
    sizes: dict[int, int] = {}
    configs: dict[int, str] = {}
    blob_refs = select(
        references.c.manifest_id, references.c.size, references.c.digest, references.c.media_type
    ).where(references.c.manifest_id.in_(ids), references.c.kind == "blob")
    for manifest_id, size, digest, media_type in conn.execute(blob_refs).all() if ids else []:
        sizes[manifest_id] = sizes.get(manifest_id, 0) + int(size)
        if media_type in CONFIG_TYPES:
            configs[manifest_id] = digest
    return {
        row.digest: ImageManifest(
            row.digest, row.media_type, _utc(row.created_at), sizes.get(row.id, 0), configs.get(row.id)
        )
        for row in rows
    }


def tags_on(conn: Connection, repo_id: int, digest: str) -> tuple[str, ...]:
    query = (
        select(tags.c.name)
        .select_from(tags.join(manifests, tags.c.manifest_id == manifests.c.id))
        .where(tags.c.repository_id == repo_id, manifests.c.digest == digest)
        .order_by(tags.c.name)
    )
    return tuple(conn.execute(query).scalars())


def indexes_holding(conn: Connection, repo_id: int, digest: str) -> tuple[str, ...]:
    query = (
        select(manifests.c.digest)
        .select_from(references.join(manifests, references.c.manifest_id == manifests.c.id))
        .where(manifests.c.repository_id == repo_id, references.c.digest == digest)
        .where(references.c.kind == "manifest")
        .order_by(manifests.c.id)
    )
    return tuple(dict.fromkeys(conn.execute(query).scalars()))


def repository_counts(conn: Connection, namespaces: Collection[str]) -> dict[str, int]:
    """How many repositories each of these namespaces holds (absent: none)."""
    if not namespaces:
        return {}
    query = (
        select(repositories.c.namespace, func.count())
        .where(repositories.c.namespace.in_(list(namespaces)))
        .group_by(repositories.c.namespace)
    )
    return {str(ns): int(n) for ns, n in conn.execute(query).all()}


def namespace_usage(conn: Connection) -> list[NamespaceUsage]:
    """Per namespace with repositories: their number, and the distinct blobs they link and their
    bytes (a blob shared by two repositories of one namespace counts once; one shared across
    namespaces counts in each)."""
    linked = (
        select(repositories.c.namespace, links.c.digest, blobs.c.size)
        .select_from(links.join(repositories).join(blobs, blobs.c.digest == links.c.digest))
        .distinct()
        .subquery()
    )
    held = conn.execute(select(repositories.c.namespace, func.count()).group_by(repositories.c.namespace))
    by_namespace = {str(ns): int(n) for ns, n in held.all()}
    sizes = {
        r.namespace: (int(r.n), int(r.size or 0))
        for r in conn.execute(
            select(
                linked.c.namespace, func.count().label("n"), func.sum(linked.c.size).label("size")
            ).group_by(linked.c.namespace)
        ).all()
    }
    return [NamespaceUsage(ns, n, *sizes.get(ns, (0, 0))) for ns, n in by_namespace.items()]


def blob_totals(conn: Connection) -> tuple[int, int]:
    """The number of blobs stored and their bytes."""
    total = conn.execute(select(func.count(), func.sum(blobs.c.size)).select_from(blobs)).one()
    return int(total[0]), int(total[1] or 0)


def repositories_within(conn: Connection, target: str | None) -> list[RepositoryRef]:
    """Every repository (``target``: only those of that namespace, or the one of that name), by name."""
    query = select(repositories.c.id, repositories.c.name, repositories.c.namespace).order_by(
        repositories.c.name
    )
    if target is not None:
        query = query.where(or_(repositories.c.name == target, repositories.c.namespace == target))
    return [RepositoryRef(int(r.id), r.name, r.namespace) for r in conn.execute(query)]


def tagged(conn: Connection, repo_id: int) -> list[TaggedDigest]:
    query = (
        select(tags.c.name, tags.c.updated_at, manifests.c.digest)
        .select_from(tags.join(manifests, manifests.c.id == tags.c.manifest_id))
        .where(tags.c.repository_id == repo_id)
    )
    return [TaggedDigest(r.name, _utc(r.updated_at), r.digest) for r in conn.execute(query)]


def untagged_manifests(conn: Connection, repo_id: int, before: datetime | None) -> list[UntaggedManifest]:
    """The repository's manifests that no tag, index or subject keeps (pushed before ``before`` when
    given), oldest first."""
    others = manifests.alias("others")
    listed = (
        select(references.c.digest)
        .join(others, others.c.id == references.c.manifest_id)
        .where(others.c.repository_id == repo_id, references.c.kind == "manifest")
    )
    subjects = select(others.c.digest).where(others.c.repository_id == repo_id)
    query = (
        select(manifests.c.digest, manifests.c.created_at, manifests.c.id)
        .where(
            manifests.c.repository_id == repo_id,
            ~exists().where(tags.c.manifest_id == manifests.c.id),
            manifests.c.digest.not_in(listed),
            or_(manifests.c.subject_digest.is_(None), manifests.c.subject_digest.not_in(subjects)),
        )
        .order_by(manifests.c.created_at, manifests.c.digest)
    )
    if before is not None:
        query = query.where(manifests.c.created_at < before)
    return [UntaggedManifest(int(r.id), r.digest, _utc(r.created_at)) for r in conn.execute(query)]


def manifest_ids_within(conn: Connection, namespaces: Collection[str]) -> set[int]:
    """Ids of every manifest in the repositories of these namespaces."""
    if not namespaces:
        return set()
    query = (
        select(manifests.c.id)
        .join(repositories, repositories.c.id == manifests.c.repository_id)
        .where(repositories.c.namespace.in_(list(namespaces)))
    )
    return {int(mid) for mid in conn.execute(query).scalars()}


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
