"""Registry metadata queries: repositories, blob links, manifests, tags.

Each public method is one short transaction, written synchronously and run on a
worker thread as a whole (``@offload``): one thread hop per operation instead of
one per database call, which measured 15x faster than SQLAlchemy's asyncio
layer over aiosqlite (35 us against 517 us for a tag lookup). No connection is
ever held while blob bytes stream. Queries use SQLAlchemy Core on the mapped tables.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from sqlalchemy import Table, and_, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from dockyard.db.engine import Database, in_thread, lookup, offload
from dockyard.db.groupcommit import GroupCommit
from dockyard.db.models import (
    Blob,
    Manifest,
    ManifestReference,
    Repository,
    RepositoryBlob,
    Tag,
)
from dockyard.events import outbox
from dockyard.names import namespace_of
from dockyard.registry import tombstones
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.events import (
    MANIFEST_DELETED,
    TAG_DELETED,
    ManifestDeleted,
    ManifestPushed,
    RepositoryDeleted,
)
from dockyard.registry.immutability import refuse_moves
from dockyard.registry.prepared import Statements
from dockyard.registry.quotas import LIMIT, refuse_if_over
from dockyard.registry.records import (
    Actor,
    Descriptor,
    ManifestPut,
    Page,
    ParsedManifest,
    RepositoryFacts,
    RepositoryIdentity,
    StoredManifest,
)
from dockyard.storage import StorageFull
from dockyard.storage.space import is_disk_full

repositories = cast(Table, Repository.__table__)
blobs = cast(Table, Blob.__table__)
links = cast(Table, RepositoryBlob.__table__)
manifests = cast(Table, Manifest.__table__)
references = cast(Table, ManifestReference.__table__)
tags = cast(Table, Tag.__table__)


# Hot lookups are built once: constructing a statement costs more than running it.
_MANIFEST_COLUMNS = (manifests.c.digest, manifests.c.media_type, manifests.c.content)
REPOSITORY_ID = select(repositories.c.id).where(repositories.c.name == bindparam("name"))
REPOSITORY_IDENTITY = select(repositories.c.id, repositories.c.created_at).where(
    repositories.c.name == bindparam("name")
)
MANIFEST_BY_TAG = (
    select(*_MANIFEST_COLUMNS)
    .select_from(tags.join(manifests).join(repositories, tags.c.repository_id == repositories.c.id))
    .where(repositories.c.name == bindparam("name"), tags.c.name == bindparam("tag"))
)
MANIFEST_BY_DIGEST = (
    select(*_MANIFEST_COLUMNS)
    .select_from(manifests.join(repositories))
    .where(repositories.c.name == bindparam("name"), manifests.c.digest == bindparam("digest"))
)
MANIFEST_ID = (
    select(manifests.c.id)
    .where(manifests.c.repository_id == bindparam("repo_id"), manifests.c.digest == bindparam("digest"))
    .with_for_update(read=True)
)  # a collector deleting it waits for the PUT, or the PUT for it
LINKED_SIZES = (
    select(links.c.digest, blobs.c.size)
    .select_from(links.join(blobs).join(repositories))
    .where(repositories.c.name == bindparam("name"), links.c.digest.in_(bindparam("digests", expanding=True)))
)
TOUCH_REPOSITORY = (  # updated_at: the hub's "recently updated" order (an indexed column)
    update(repositories)
    .where(repositories.c.id == bindparam("repo_id"))
    .values(pushed_at=bindparam("now"), updated_at=bindparam("now"))
)
LINKED_BLOB_SIZE = (
    select(blobs.c.size)
    .select_from(links.join(blobs).join(repositories))
    .where(repositories.c.name == bindparam("name"), links.c.digest == bindparam("digest"))
)


def _now() -> datetime:
    return datetime.now(UTC)


class DefaultVisibility(Protocol):
    """Whether a repository the registry creates (a push into a new name, a mount, a cache fill)
    starts private: its namespace's default, as for one created on the hub. The namespaces are the
    accounts', a layer above; the composition root passes theirs (accounts/readmodels.py)."""

    def __call__(self, conn: Connection, namespace: str) -> bool: ...


def everything_public(conn: Connection, namespace: str) -> bool:
    """A registry without accounts (a test's): every namespace is without a row, so public."""
    return False


class MetadataStore:
    def __init__(self, database: Database, default_private: DefaultVisibility = everything_public) -> None:
        self.db = database
        self._default_private = default_private
        dialect = database.dialect
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # Tag and repository names sort bytewise whatever the database's locale.
        self._collate = "C" if dialect == "postgresql" else "BINARY"
        self.inline_lookups = dialect == "sqlite"
        self._add_repository = (
            self._insert(repositories)
            .values(name=bindparam("name"), created_at=bindparam("now"), is_private=bindparam("is_private"))
            .on_conflict_do_nothing(index_elements=["name"])
        )
        upsert = self._insert(tags).values(
            repository_id=bindparam("repo_id"),
            name=bindparam("tag"),
            manifest_id=bindparam("manifest_id"),
            updated_at=bindparam("now"),
        )
        self._upsert_tag = upsert.on_conflict_do_update(
            index_elements=["repository_id", "name"],
            set_={"manifest_id": upsert.excluded.manifest_id, "updated_at": upsert.excluded.updated_at},
        )
        self._hot = Statements(dialect)  # the manifest PUT's statements, compiled once on SQLite
        self._group = GroupCommit(self._writing) if dialect == "sqlite" else None

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction; a full disk ("database or disk is full") becomes StorageFull."""
        try:
            with self.db.write.begin() as conn:
                yield conn
        except DBAPIError as exc:
            if is_disk_full(exc):
                raise StorageFull("the metadata database") from exc
            raise

    # -- repositories -------------------------------------------------------------

    @offload
    def repository_id(self, name: str) -> int | None:
        with self.db.read.connect() as conn:
            return self._repository_id(conn, name)

    @staticmethod
    def _repository_id(conn: Connection, name: str) -> int | None:
        return conn.execute(REPOSITORY_ID, {"name": name}).scalar_one_or_none()

    def _ensure_repository(self, conn: Connection, name: str) -> int:
        """The repository's id, creating it (by its namespace's default visibility) when absent."""
        repo_id = self._repository_id(conn, name)
        if repo_id is None:
            private = self._default_private(conn, namespace_of(name))
            conn.execute(self._add_repository, {"name": name, "now": _now(), "is_private": private})
            repo_id = self._repository_id(conn, name)
        assert repo_id is not None
        return repo_id

    @lookup
    def repository_identity(self, name: str) -> RepositoryIdentity | None:
        with self.db.read.connect() as conn:
            return identity_of(conn, name)

    async def ensure_repository(self, name: str) -> RepositoryIdentity:
        """The repository's identity, creating it (by its namespace's default) when absent."""
        found = await self.repository_identity(name)
        return found if found is not None else await self._create_repository(name)

    @offload
    def _create_repository(self, name: str) -> RepositoryIdentity:
        with self._writing() as conn:
            self._ensure_repository(conn, name)
            found = identity_of(conn, name)
        assert found is not None
        return found

    @offload
    def catalog(self, limit: int | None, last: str | None) -> Page:
        query = select(repositories.c.name)
        return self._page(query, repositories.c.name, limit, last)

    def _page(self, query: Any, column: Any, limit: int | None, last: str | None) -> Page:
        ordered = column.collate(self._collate)
        if last is not None:
            query = query.where(ordered > last)
        query = query.order_by(ordered)
        if limit is not None:
            query = query.limit(limit + 1)
        with self.db.read.connect() as conn:
            names = list((conn.execute(query)).scalars())
        if limit is not None and len(names) > limit:
            names = names[:limit]
            return Page(names, names[-1] if names else None)
        return Page(names, None)

    # -- blobs ----------------------------------------------------------------------

    @lookup
    def linked_blob_size(self, repository: str, digest: str) -> int | None:
        with self.db.read.connect() as conn:
            return conn.execute(LINKED_BLOB_SIZE, {"name": repository, "digest": digest}).scalar_one_or_none()

    @offload
    def repositories_with_blob(self, digest: str) -> list[str]:
        query = (
            select(repositories.c.name)
            .select_from(links.join(repositories))
            .where(links.c.digest == digest)
            .order_by(repositories.c.name)
        )
        with self.db.read.connect() as conn:
            return list((conn.execute(query)).scalars())

    @offload
    def link_blob(self, repository: str, digest: str, size: int) -> None:
        with self._writing() as conn:
            self._link(conn, self._ensure_repository(conn, repository), digest, size)

    def _link(self, conn: Connection, repo_id: int, digest: str, size: int) -> None:
        now = _now()
        conn.execute(
            self._insert(blobs).values(digest=digest, size=size, created_at=now).on_conflict_do_nothing()
        )
        conn.execute(
            self._insert(links)
            .values(repository_id=repo_id, digest=digest, created_at=now)
            .on_conflict_do_nothing()
        )

    @offload
    def unlink_blob(self, repository: str, digest: str) -> bool:
        with self._writing() as conn:
            repo_id = self._repository_id(conn, repository)
            if repo_id is None:
                return False
            result = conn.execute(
                delete(links).where(links.c.repository_id == repo_id, links.c.digest == digest)
            )
            return bool(result.rowcount)

    # -- manifests ------------------------------------------------------------------

    @lookup
    def manifest_by_tag(self, repository: str, tag: str) -> StoredManifest | None:
        return self._one_manifest(MANIFEST_BY_TAG, {"name": repository, "tag": tag})

    @lookup
    def manifest_by_digest(self, repository: str, digest: str) -> StoredManifest | None:
        return self._one_manifest(MANIFEST_BY_DIGEST, {"name": repository, "digest": digest})

    def _one_manifest(self, query: Any, params: dict[str, str]) -> StoredManifest | None:
        with self.db.read.connect() as conn:
            row = conn.execute(query, params).first()
        return None if row is None else StoredManifest(row.digest, row.media_type, bytes(row.content))

    @offload
    def linked_blob_sizes(self, repository: str, digests: Iterable[str]) -> dict[str, int]:
        """The size of each of ``digests`` the repository links; absent ones are left out."""
        wanted = sorted(set(digests))
        if not wanted:
            return {}
        with self.db.read.connect() as conn:
            rows = conn.execute(LINKED_SIZES, {"name": repository, "digests": wanted}).all()
        return {row.digest: int(row.size) for row in rows}

    @offload
    def missing_manifests(self, repository: str, digests: Iterable[str]) -> list[str]:
        wanted = set(digests)
        if not wanted:
            return []
        query = (
            select(manifests.c.digest)
            .select_from(manifests.join(repositories))
            .where(repositories.c.name == repository, manifests.c.digest.in_(wanted))
        )
        with self.db.read.connect() as conn:
            present = set((conn.execute(query)).scalars())
        return sorted(wanted - present)

    async def put_manifest(self, push: ManifestPut) -> ManifestPushed:
        """The whole PUT in one write transaction: the blobs and child manifests it needs are
        there (sizes as declared), the repository (created by its namespace's default when new),
        the manifest and its references, the tags, ``pushed_at``, and the ``manifest.pushed``
        event. Raises the registry's errors, with nothing written. On SQLite, PUTs that arrive
        together share a transaction, each in its own savepoint (db/groupcommit.py)."""
        if self._group is not None:
            return await self._group.run(functools.partial(self._put_manifest, push))
        return await in_thread(functools.partial(self._put_manifest_alone, push))

    def _put_manifest_alone(self, push: ManifestPut) -> ManifestPushed:
        with self._writing() as conn:
            return self._put_manifest(push, conn)

    def _put_manifest(self, push: ManifestPut, conn: Connection) -> ManifestPushed:
        now = _now()
        _check_references(conn, push, self._hot)
        namespace = namespace_of(push.repository)
        refuse_if_over(conn, namespace, self._hot.scalar(conn, LIMIT, {"namespace": namespace}))
        repo_id = self._hot.scalar(conn, REPOSITORY_ID, {"name": push.repository})
        if repo_id is None:
            repo_id = self._ensure_repository(conn, push.repository)
        manifest_id = self._insert_manifest(conn, repo_id, push.digest, push.content, push.parsed, now)
        refuse_moves(conn, self._hot, repo_id, push.tags, manifest_id)  # immutable tags (immutability.py)
        for name in push.tags:
            params = {"repo_id": repo_id, "tag": name, "manifest_id": manifest_id, "now": now}
            self._hot.execute(conn, self._upsert_tag, params)
        self._hot.execute(conn, TOUCH_REPOSITORY, {"repo_id": repo_id, "now": now})
        pushed = ManifestPushed(
            push.repository,
            repo_id,
            push.digest,
            push.parsed.media_type,
            push.tags,
            push.actor,
            push.ip,
            now,
        )
        event = outbox.row(pushed.event())
        self._hot.execute(conn, outbox.INSERT, event, column_keys=list(event))
        return pushed

    @offload
    def cache_manifest(
        self, repository: str, digest: str, content: bytes, parsed: ParsedManifest, tags: Sequence[str]
    ) -> None:
        """A pull-through cache's fill: the repository, the manifest, its references and its tags,
        in one transaction, like a push but without one's checks or event. The blobs and child
        manifests it names are fetched later, when a client asks for them (the cache checked the
        manifest's digest instead); and a fill is not a push, so no ``manifest.pushed`` (no push
        webhook, no build trigger, no audit row of a push)."""
        now = _now()
        with self._writing() as conn:
            repo_id = self._ensure_repository(conn, repository)
            manifest_id = self._insert_manifest(conn, repo_id, digest, content, parsed, now)
            for name in tags:
                params = {"repo_id": repo_id, "tag": name, "manifest_id": manifest_id, "now": now}
                conn.execute(self._upsert_tag, params)
            conn.execute(TOUCH_REPOSITORY, {"repo_id": repo_id, "now": now})

    @offload
    def evict_cached(self, repository: str, digest: str) -> bool:
        """A pull-through cache's eviction: the manifest, the tags on it, its references, and the
        repository's blob links no manifest left in it references, in one transaction and with no
        event (nobody deleted anything upstream); False when it is gone already. The bytes stay
        for the garbage collector, like those of any unlinked blob."""
        with self._writing() as conn:
            repo_id = self._repository_id(conn, repository)
            where = and_(manifests.c.repository_id == repo_id, manifests.c.digest == digest)
            manifest_id = conn.execute(select(manifests.c.id).where(where)).scalar_one_or_none()
            if repo_id is None or manifest_id is None:
                return False
            conn.execute(delete(tags).where(tags.c.manifest_id == manifest_id))
            conn.execute(delete(references).where(references.c.manifest_id == manifest_id))
            conn.execute(delete(manifests).where(manifests.c.id == manifest_id))
            still_used = (
                select(references.c.digest)
                .select_from(references.join(manifests))
                .where(manifests.c.repository_id == repo_id)
            )
            conn.execute(
                delete(links).where(links.c.repository_id == repo_id, links.c.digest.not_in(still_used))
            )
            return True

    def _insert_manifest(
        self,
        conn: Connection,
        repo_id: int,
        digest: str,
        content: bytes,
        parsed: ParsedManifest,
        now: datetime,
    ) -> int:
        found: int | None = self._hot.scalar(conn, MANIFEST_ID, {"repo_id": repo_id, "digest": digest})
        if found is not None:
            return found
        result = conn.execute(
            manifests.insert(),
            dict(
                repository_id=repo_id,
                digest=digest,
                media_type=parsed.media_type,
                artifact_type=parsed.artifact_type,
                subject_digest=parsed.subject.digest if parsed.subject else None,
                size=len(content),
                content=content,
                created_at=now,
            ),
        )
        assert result.inserted_primary_key is not None
        manifest_id = int(result.inserted_primary_key[0])
        rows = [_reference_row(manifest_id, "blob", d) for d in parsed.blobs]
        rows += [_reference_row(manifest_id, "manifest", d) for d in parsed.children]
        if rows:
            conn.execute(references.insert(), rows)
        return manifest_id

    @offload
    def delete_manifest(self, repository: str, digest: str, actor: Actor) -> bool:
        with self._writing() as conn:
            repo_id = self._repository_id(conn, repository)
            if repo_id is None:
                return False
            where = and_(manifests.c.repository_id == repo_id, manifests.c.digest == digest)
            manifest_id = (conn.execute(select(manifests.c.id).where(where))).scalar_one_or_none()
            if manifest_id is None:
                return False
            # Explicit, so it holds where the database ignores ON DELETE CASCADE.
            conn.execute(delete(tags).where(tags.c.manifest_id == manifest_id))
            conn.execute(delete(references).where(references.c.manifest_id == manifest_id))
            conn.execute(delete(manifests).where(manifests.c.id == manifest_id))
            deleted = ManifestDeleted(repository, repo_id, digest, actor.name, actor.ip)
            outbox.add(conn, deleted.event(MANIFEST_DELETED))
            return True

    @offload
    def delete_tag(self, repository: str, tag: str, actor: Actor) -> bool:
        with self._writing() as conn:
            repo_id = self._repository_id(conn, repository)
            if repo_id is None:
                return False
            result = conn.execute(delete(tags).where(tags.c.repository_id == repo_id, tags.c.name == tag))
            if not result.rowcount:
                return False
            untagged = ManifestDeleted(repository, repo_id, tag, actor.name, actor.ip)
            outbox.add(conn, untagged.event(TAG_DELETED))
            return True

    @offload
    def delete_repository(self, repository: str, actor: Actor) -> bool:
        """The repository's tags, manifests, references, blob links and row, and the
        ``repository.deleted`` event, in one transaction; False when there is no such repository.
        What other packages keep about it goes in their handlers of that event."""
        with self._writing() as conn:
            repo_id = self._repository_id(conn, repository)
            if repo_id is None:
                return False
            manifest_ids = select(manifests.c.id).where(manifests.c.repository_id == repo_id)
            # Children first and explicitly, so it holds where the database ignores ON DELETE CASCADE.
            conn.execute(delete(tags).where(tags.c.repository_id == repo_id))
            conn.execute(delete(references).where(references.c.manifest_id.in_(manifest_ids)))
            conn.execute(delete(manifests).where(manifests.c.repository_id == repo_id))
            conn.execute(delete(links).where(links.c.repository_id == repo_id))
            conn.execute(delete(repositories).where(repositories.c.id == repo_id))
            tombstones.bury(conn, repository, _now())  # older push tokens may not recreate it
            outbox.add(conn, RepositoryDeleted(repository, repo_id, actor.name).event())
            return True

    @offload
    def delete_tag_pointing(self, repository: str, tag: str, digest: str, actor: Actor) -> bool:
        """Untag only while ``tag`` still points at ``digest`` (retention's delete: a tag pushed
        again since it was planned stays), with its ``tag.deleted`` event."""
        with self._writing() as conn:
            repo_id = self._repository_id(conn, repository)
            if repo_id is None:
                return False
            target = (
                select(manifests.c.id)
                .where(manifests.c.repository_id == repo_id, manifests.c.digest == digest)
                .scalar_subquery()
            )
            where = and_(tags.c.repository_id == repo_id, tags.c.name == tag, tags.c.manifest_id == target)
            if not conn.execute(delete(tags).where(where)).rowcount:
                return False
            untagged = ManifestDeleted(repository, repo_id, tag, actor.name, actor.ip)
            outbox.add(conn, untagged.event(TAG_DELETED))
            return True

    # -- tags and referrers ---------------------------------------------------------

    @offload
    def tags(self, repository: str, limit: int | None, last: str | None) -> Page | None:
        with self.db.read.connect() as conn:
            repo_id = self._repository_id(conn, repository)
        if repo_id is None:
            return None
        query = select(tags.c.name).where(tags.c.repository_id == repo_id)
        return self._page(query, tags.c.name, limit, last)

    @offload
    def referrers(self, repository: str, subject: str) -> list[StoredManifest]:
        query = (
            select(manifests.c.digest, manifests.c.media_type, manifests.c.content)
            .select_from(manifests.join(repositories))
            .where(repositories.c.name == repository, manifests.c.subject_digest == subject)
            .order_by(manifests.c.created_at, manifests.c.id)
        )
        with self.db.read.connect() as conn:
            rows = (conn.execute(query)).all()
        return [StoredManifest(r.digest, r.media_type, bytes(r.content)) for r in rows]

    @offload
    def repository_facts(self, names: Iterable[str]) -> dict[str, RepositoryFacts]:
        """Per existing repository of ``names``: its id, manifest media types and linked bytes."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        with self.db.read.connect() as conn:
            query = select(repositories.c.name, repositories.c.id).where(repositories.c.name.in_(wanted))
            ids = {str(name): int(repo_id) for name, repo_id in conn.execute(query).all()}
            types: dict[int, list[str]] = {}
            for repo_id, media_type in conn.execute(
                select(manifests.c.repository_id, manifests.c.media_type)
                .where(manifests.c.repository_id.in_(ids.values()))
                .group_by(manifests.c.repository_id, manifests.c.media_type)
                .order_by(manifests.c.media_type)
            ):
                types.setdefault(repo_id, []).append(media_type)
            sizes = dict(
                conn.execute(
                    select(links.c.repository_id, func.sum(blobs.c.size))
                    .select_from(links.join(blobs))
                    .where(links.c.repository_id.in_(ids.values()))
                    .group_by(links.c.repository_id)
                ).all()
            )
        return {
            name: RepositoryFacts(repo_id, tuple(types.get(repo_id, ())), int(sizes.get(repo_id) or 0))
            for name, repo_id in ids.items()
        }

    @offload
    def count_manifests(self) -> int:
        with self.db.read.connect() as conn:
            return int((conn.execute(select(func.count()).select_from(manifests))).scalar_one())


def identity_of(conn: Connection, name: str) -> RepositoryIdentity | None:
    """The incarnation of the repository called ``name`` now, None when there is none."""
    row = conn.execute(REPOSITORY_IDENTITY, {"name": name}).first()
    return None if row is None else RepositoryIdentity(int(row.id), str(row.created_at))


def _reference_row(manifest_id: int, kind: str, descriptor: Descriptor) -> dict[str, Any]:
    platform = descriptor.platform
    return {
        "manifest_id": manifest_id,
        "digest": descriptor.digest,
        "kind": kind,
        "media_type": descriptor.media_type,
        "size": descriptor.size,
        "platform_os": platform.os if platform else None,
        "platform_architecture": platform.architecture if platform else None,
        "platform_variant": platform.variant if platform else None,
    }


PRESENT_CHILDREN = (
    select(manifests.c.digest)
    .select_from(manifests.join(repositories))
    .where(
        repositories.c.name == bindparam("name"),
        manifests.c.digest.in_(bindparam("digests", expanding=True)),
    )
    .with_for_update(read=True, of=manifests)
)
# The PUT's check share-locks the rows it relies on until its commit (PostgreSQL; SQLite runs
# one writer at a time): an online collector's mark or manifest delete (registry/gc.py) locks
# them for update, so it comes wholly before the check (which then sees the link gone) or
# wholly after the commit (and sees the new reference).
LINKED_SIZES_LOCKED = LINKED_SIZES.with_for_update(read=True, of=blobs)


# Manifests with up to this many distinct blobs check them with a statement compiled for their
# count; bounded, as every count is a statement kept for good (pushers choose the counts).
HOT_REFERENCES = 64


@functools.cache
def _linked_sizes(count: int) -> Any:
    """LINKED_SIZES for ``count`` (<= HOT_REFERENCES) digests as plain parameters d0, d1, ..."""
    digests: list[Any] = [bindparam(f"d{i}") for i in range(count)]
    return (
        select(links.c.digest, blobs.c.size)
        .select_from(links.join(blobs).join(repositories))
        .where(repositories.c.name == bindparam("name"), links.c.digest.in_(digests))
        .with_for_update(read=True, of=blobs)  # as LINKED_SIZES_LOCKED (PostgreSQL; SQLite drops it)
    )


def _check_references(conn: Connection, push: ManifestPut, hot: Statements) -> None:
    """Every blob the manifest needs is in the repository, with the size the manifest says, and
    so is every manifest an index lists.

    A descriptor's size is what clients trust before they fetch (image-spec); one that
    disagrees with the stored blob is a lie, refused as MANIFEST_INVALID (the spec's code
    for a manifest that fails validation; SIZE_INVALID is about uploaded bytes)."""
    required = push.parsed.blobs
    wanted = sorted({d.digest for d in required})
    sizes: dict[str, int] = {}
    if 0 < len(wanted) <= HOT_REFERENCES:
        named = {"name": push.repository, **{f"d{i}": d for i, d in enumerate(wanted)}}
        sizes = {digest: int(size) for digest, size in hot.rows(conn, _linked_sizes(len(wanted)), named)}
    elif wanted:  # a manifest of many layers: not worth a statement of its own per count
        rows = conn.execute(LINKED_SIZES_LOCKED, {"name": push.repository, "digests": wanted}).all()
        sizes = {row.digest: int(row.size) for row in rows}
    missing = sorted(set(wanted) - sizes.keys())
    if missing:
        raise RegistryError(ErrorCode.MANIFEST_BLOB_UNKNOWN, {"digests": missing})
    for descriptor in required:
        stored = sizes[descriptor.digest]
        if descriptor.size != stored:
            raise RegistryError(
                ErrorCode.MANIFEST_INVALID,
                {"digest": descriptor.digest, "size": descriptor.size, "stored": stored},
                message=f"manifest invalid: {descriptor.digest} is {stored} bytes, not {descriptor.size}",
            )
    children = sorted({d.digest for d in push.parsed.children})
    if children:
        params = {"name": push.repository, "digests": children}
        present = set(conn.execute(PRESENT_CHILDREN, params).scalars())
        absent = [d for d in children if d not in present]
        if absent:
            raise RegistryError(
                ErrorCode.MANIFEST_UNKNOWN, {"digests": absent}, message="index references unknown manifests"
            )
