"""Repositories as the accounts domain sees them: who created them, visibility, descriptions.

Manifests and blobs are the registry's; a repository row here is what access is decided on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from dockyard.accounts import _queries as q
from dockyard.accounts import limits, names
from dockyard.accounts._queries import repositories
from dockyard.accounts.audit import write_event
from dockyard.accounts.errors import AlreadyExists, DeletedSince, NotFound
from dockyard.accounts.records import EventKind, Principal, RepositoryInfo
from dockyard.db.engine import lookup, offload
from dockyard.registry import tombstones

NEW_REPOSITORIES = "new repositories"
REPOSITORY_EXISTS = select(repositories.c.id).where(repositories.c.name == bindparam("name"))


class Repositories(q.ServicePart):
    @offload
    def create_repository(
        self,
        name: str,
        *,
        private: bool | None = None,
        description: str = "",
        full_description: str = "",
        created_by: Principal | str | None = None,
    ) -> RepositoryInfo:
        """A new repository in an existing namespace (or library); visibility defaults to the namespace's."""
        name = names.canonical_repository(name)
        description = q.validate_description(description)
        creator = created_by.username if isinstance(created_by, Principal) else created_by
        with self.db.write.begin() as conn:
            namespace = names.namespace_of(name)
            default_private = q.default_private(conn, namespace)
            if default_private is None:
                raise NotFound(f"no user or organisation named {namespace!r}")
            if conn.execute(select(repositories.c.id).where(repositories.c.name == name)).first():
                raise AlreadyExists(f"repository {name!r} already exists")
            self._count_creation(conn, namespace, created_by)
            is_private = default_private if private is None else private
            conn.execute(
                repositories.insert().values(
                    name=name,
                    created_at=q.now(),
                    is_private=is_private,
                    description=description,
                    full_description=full_description,
                    created_by=creator,
                )
            )
            write_event(
                conn, EventKind.REPOSITORY_CREATED, actor=creator, target=name, detail={"private": is_private}
            )
            info = q.repository(conn, name)
        assert info is not None
        return info

    async def ensure_repository(
        self, name: str, created_by: Principal | None, *, issued_at: datetime | None = None
    ) -> None:
        """Create the repository if absent, private or public by its namespace's default, as a push
        into a new repository does on Docker Hub. Call it before the registry writes anything.
        Every upload and manifest PUT asks, so the usual answer (it exists) is a point read that
        runs inline on SQLite, without a thread hop. ``issued_at``: when the push's token was
        issued; a repository deleted since is not created again (DeletedSince, registry/tombstones.py)."""
        if not await self._repository_exists(name):
            await self._create_pushed_repository(name, created_by, issued_at)

    @lookup
    def _repository_exists(self, name: str) -> bool:
        return self.db.point(REPOSITORY_EXISTS, {"name": name}) is not None

    @offload
    def _create_pushed_repository(
        self, name: str, created_by: Principal | None, issued_at: datetime | None
    ) -> None:
        namespace = names.namespace_of(name)
        creator = created_by.username if created_by is not None else None
        with self.db.write.begin() as conn:
            if conn.execute(REPOSITORY_EXISTS, {"name": name}).first():
                return  # made by a concurrent push meanwhile: nothing to count
            if issued_at is not None and tombstones.deleted_after(conn, name, issued_at):
                raise DeletedSince(f"{name} was deleted after this push's token was issued; log in again")
            self._count_creation(conn, namespace, created_by)
            is_private = bool(q.default_private(conn, namespace))
            stmt = self._insert(repositories).values(
                name=name, created_at=q.now(), is_private=is_private, created_by=creator
            )
            result = conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
            if result.rowcount:
                write_event(
                    conn,
                    EventKind.REPOSITORY_CREATED,
                    actor=creator,
                    target=name,
                    detail={"private": is_private},
                )

    def _count_creation(self, conn: Connection, namespace: str, creator: Principal | str | None) -> None:
        """Apply the creation limits to someone creating a repository for themselves: the
        namespace's cap, then their creations per window. Administrators and the CLI (a plain
        name or nobody) are not limited."""
        if not isinstance(creator, Principal) or creator.is_admin:
            return
        limits.check_namespace(conn, namespace, self.limits.repositories_per_namespace)
        window = self.limits.repositories_per_user
        limits.take(conn, limits.repository_key(creator.username), window, q.now(), NEW_REPOSITORIES)

    @offload
    def get_repository(self, name: str) -> RepositoryInfo | None:
        with self.db.read.connect() as conn:
            return q.repository(conn, name)

    @offload
    def list_repositories(self, namespace: str | None = None) -> list[RepositoryInfo]:
        query = select(repositories).order_by(repositories.c.name)
        if namespace is not None:
            query = query.where(repositories.c.namespace == namespace)
        with self.db.read.connect() as conn:
            rows = conn.execute(query).all()
        return [q.repository_record(row) for row in rows]

    @offload
    def set_visibility(self, name: str, private: bool, *, actor: str | None = None) -> RepositoryInfo:
        with self.db.write.begin() as conn:
            info = q.repository(conn, name)
            if info is None:
                raise NotFound(f"repository {name!r} does not exist")
            if info.is_private != private:
                conn.execute(
                    update(repositories).where(repositories.c.id == info.id).values(is_private=private)
                )
                write_event(
                    conn, EventKind.VISIBILITY_CHANGED, actor=actor, target=name, detail={"private": private}
                )
            updated = q.repository(conn, name)
        assert updated is not None
        return updated

    @offload
    def set_description(
        self, name: str, description: str, full_description: str | None = None, *, actor: str | None = None
    ) -> RepositoryInfo:
        description = q.validate_description(description)
        values: dict[str, str] = {"description": description}
        if full_description is not None:
            values["full_description"] = full_description
        with self.db.write.begin() as conn:
            result = conn.execute(update(repositories).where(repositories.c.name == name).values(**values))
            if not result.rowcount:
                raise NotFound(f"repository {name!r} does not exist")
            info = q.repository(conn, name)
        assert info is not None
        return info
