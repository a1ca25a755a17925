"""Registry metadata queries: repositories, blob links, manifests, tags.

Each method opens its own short transaction: no connection is ever held while
blob bytes stream. Hot paths use SQLAlchemy Core on the mapped tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dockyard.db.models import Blob, Manifest, ManifestReference, Repository, RepositoryBlob, Tag
from dockyard.registry.records import Descriptor, Page, ParsedManifest, StoredManifest

repositories = Repository.__table__
blobs = Blob.__table__
links = RepositoryBlob.__table__
manifests = Manifest.__table__
references = ManifestReference.__table__
tags = Tag.__table__


def _now() -> datetime:
    return datetime.now(UTC)


class MetadataStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        dialect = engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # Tag and repository names sort bytewise whatever the database's locale.
        self._collate = "C" if dialect == "postgresql" else "BINARY"

    # -- repositories -------------------------------------------------------------

    async def repository_id(self, name: str) -> int | None:
        async with self.engine.connect() as conn:
            return await self._repository_id(conn, name)

    @staticmethod
    async def _repository_id(conn: AsyncConnection, name: str) -> int | None:
        result = await conn.execute(select(repositories.c.id).where(repositories.c.name == name))
        return result.scalar_one_or_none()

    async def _ensure_repository(self, conn: AsyncConnection, name: str) -> int:
        stmt = self._insert(repositories).values(name=name, created_at=_now())
        await conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
        repo_id = await self._repository_id(conn, name)
        assert repo_id is not None
        return repo_id

    async def catalog(self, limit: int | None, last: str | None) -> Page:
        query = select(repositories.c.name)
        return await self._page(query, repositories.c.name, limit, last)

    async def _page(self, query: Any, column: Any, limit: int | None, last: str | None) -> Page:
        ordered = column.collate(self._collate)
        if last is not None:
            query = query.where(ordered > last)
        query = query.order_by(ordered)
        if limit is not None:
            query = query.limit(limit + 1)
        async with self.engine.connect() as conn:
            names = list((await conn.execute(query)).scalars())
        if limit is not None and len(names) > limit:
            names = names[:limit]
            return Page(names, names[-1] if names else None)
        return Page(names, None)

    # -- blobs ----------------------------------------------------------------------

    async def linked_blob_size(self, repository: str, digest: str) -> int | None:
        query = (
            select(blobs.c.size)
            .select_from(links.join(blobs).join(repositories))
            .where(repositories.c.name == repository, links.c.digest == digest)
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def repositories_with_blob(self, digest: str) -> list[str]:
        query = (
            select(repositories.c.name)
            .select_from(links.join(repositories))
            .where(links.c.digest == digest)
            .order_by(repositories.c.name)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def link_blob(self, repository: str, digest: str, size: int) -> None:
        async with self.engine.begin() as conn:
            repo_id = await self._ensure_repository(conn, repository)
            now = _now()
            await conn.execute(
                self._insert(blobs).values(digest=digest, size=size, created_at=now).on_conflict_do_nothing()
            )
            await conn.execute(
                self._insert(links)
                .values(repository_id=repo_id, digest=digest, created_at=now)
                .on_conflict_do_nothing()
            )

    async def unlink_blob(self, repository: str, digest: str) -> bool:
        async with self.engine.begin() as conn:
            repo_id = await self._repository_id(conn, repository)
            if repo_id is None:
                return False
            result = await conn.execute(
                delete(links).where(links.c.repository_id == repo_id, links.c.digest == digest)
            )
            return bool(result.rowcount)

    # -- manifests ------------------------------------------------------------------

    async def manifest_by_tag(self, repository: str, tag: str) -> StoredManifest | None:
        query = (
            select(manifests.c.digest, manifests.c.media_type, manifests.c.content)
            .select_from(tags.join(manifests).join(repositories, tags.c.repository_id == repositories.c.id))
            .where(repositories.c.name == repository, tags.c.name == tag)
        )
        return await self._one_manifest(query)

    async def manifest_by_digest(self, repository: str, digest: str) -> StoredManifest | None:
        query = (
            select(manifests.c.digest, manifests.c.media_type, manifests.c.content)
            .select_from(manifests.join(repositories))
            .where(repositories.c.name == repository, manifests.c.digest == digest)
        )
        return await self._one_manifest(query)

    async def _one_manifest(self, query: Any) -> StoredManifest | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else StoredManifest(row.digest, row.media_type, bytes(row.content))

    async def missing_blobs(self, repository: str, digests: Iterable[str]) -> list[str]:
        wanted = set(digests)
        if not wanted:
            return []
        query = (
            select(links.c.digest)
            .select_from(links.join(repositories))
            .where(repositories.c.name == repository, links.c.digest.in_(wanted))
        )
        async with self.engine.connect() as conn:
            present = set((await conn.execute(query)).scalars())
        return sorted(wanted - present)

    async def missing_manifests(self, repository: str, digests: Iterable[str]) -> list[str]:
        wanted = set(digests)
        if not wanted:
            return []
        query = (
            select(manifests.c.digest)
            .select_from(manifests.join(repositories))
            .where(repositories.c.name == repository, manifests.c.digest.in_(wanted))
        )
        async with self.engine.connect() as conn:
            present = set((await conn.execute(query)).scalars())
        return sorted(wanted - present)

    async def put_manifest(
        self, repository: str, digest: str, content: bytes, parsed: ParsedManifest, tag_names: Sequence[str]
    ) -> None:
        now = _now()
        async with self.engine.begin() as conn:
            repo_id = await self._ensure_repository(conn, repository)
            manifest_id = await self._insert_manifest(conn, repo_id, digest, content, parsed, now)
            for name in tag_names:
                stmt = self._insert(tags).values(
                    repository_id=repo_id, name=name, manifest_id=manifest_id, updated_at=now
                )
                await conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["repository_id", "name"],
                        set_={"manifest_id": manifest_id, "updated_at": now},
                    )
                )
            await conn.execute(update(repositories).where(repositories.c.id == repo_id).values(pushed_at=now))

    async def _insert_manifest(
        self,
        conn: AsyncConnection,
        repo_id: int,
        digest: str,
        content: bytes,
        parsed: ParsedManifest,
        now: datetime,
    ) -> int:
        existing = await conn.execute(
            select(manifests.c.id).where(manifests.c.repository_id == repo_id, manifests.c.digest == digest)
        )
        manifest_id = existing.scalar_one_or_none()
        if manifest_id is not None:
            return manifest_id
        result = await conn.execute(
            manifests.insert().values(
                repository_id=repo_id,
                digest=digest,
                media_type=parsed.media_type,
                artifact_type=parsed.artifact_type,
                subject_digest=parsed.subject.digest if parsed.subject else None,
                size=len(content),
                content=content,
                created_at=now,
            )
        )
        manifest_id = result.inserted_primary_key[0]
        rows = [_reference_row(manifest_id, "blob", d) for d in parsed.blobs]
        rows += [_reference_row(manifest_id, "manifest", d) for d in parsed.children]
        if rows:
            await conn.execute(references.insert(), rows)
        return int(manifest_id)

    async def delete_manifest(self, repository: str, digest: str) -> bool:
        async with self.engine.begin() as conn:
            repo_id = await self._repository_id(conn, repository)
            if repo_id is None:
                return False
            where = and_(manifests.c.repository_id == repo_id, manifests.c.digest == digest)
            manifest_id = (await conn.execute(select(manifests.c.id).where(where))).scalar_one_or_none()
            if manifest_id is None:
                return False
            # Explicit, so it holds where the database ignores ON DELETE CASCADE.
            await conn.execute(delete(tags).where(tags.c.manifest_id == manifest_id))
            await conn.execute(delete(references).where(references.c.manifest_id == manifest_id))
            await conn.execute(delete(manifests).where(manifests.c.id == manifest_id))
            return True

    async def delete_tag(self, repository: str, tag: str) -> bool:
        async with self.engine.begin() as conn:
            repo_id = await self._repository_id(conn, repository)
            if repo_id is None:
                return False
            result = await conn.execute(delete(tags).where(tags.c.repository_id == repo_id, tags.c.name == tag))
            return bool(result.rowcount)

    # -- tags and referrers ---------------------------------------------------------

    async def tags(self, repository: str, limit: int | None, last: str | None) -> Page | None:
        repo_id = await self.repository_id(repository)
        if repo_id is None:
            return None
        query = select(tags.c.name).where(tags.c.repository_id == repo_id)
        return await self._page(query, tags.c.name, limit, last)

    async def referrers(self, repository: str, subject: str) -> list[StoredManifest]:
        query = (
            select(manifests.c.digest, manifests.c.media_type, manifests.c.content)
            .select_from(manifests.join(repositories))
            .where(repositories.c.name == repository, manifests.c.subject_digest == subject)
            .order_by(manifests.c.created_at, manifests.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [StoredManifest(r.digest, r.media_type, bytes(r.content)) for r in rows]

    async def count_manifests(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(manifests))).scalar_one())


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
