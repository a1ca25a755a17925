"""Repositories as the accounts domain sees them: who created them, visibility, descriptions.

The row is the registry's (``registry/repository_rows.py`` writes it, inside the transaction of
the methods here): the accounts decide who may create or change a repository, count creations
against the limits and audit the change, in one transaction with the write.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection

from dockyard.accounts import _queries as q
from dockyard.accounts import limits, names
from dockyard.accounts.audit import write_event
from dockyard.accounts.errors import AlreadyExists, DeletedSince, NotFound
from dockyard.accounts.records import EventKind, Principal, RepositoryInfo
from dockyard.db.engine import lookup, offload
from dockyard.registry import repository_rows, tombstones

NEW_REPOSITORIES = "new repositories"


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
            if repository_rows.exists(conn, name):
                raise AlreadyExists(f"repository {name!r} already exists")
            self._count_creation(conn, namespace, created_by)
            is_private = default_private if private is None else private
            created = repository_rows.create(
                conn,
                name,
                is_private=is_private,
                now=q.now(),
                description=description,
                full_description=full_description,
                created_by=creator,
            )
            if not created:  # a concurrent push, where transactions do not take the lock up front
                raise AlreadyExists(f"repository {name!r} already exists")
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
        return repository_rows.exists_point(self.db, name)

    @offload
    def _create_pushed_repository(
        self, name: str, created_by: Principal | None, issued_at: datetime | None
    ) -> None:
        namespace = names.namespace_of(name)
        creator = created_by.username if created_by is not None else None
        with self.db.write.begin() as conn:
            if repository_rows.exists(conn, name):
                return  # made by a concurrent push meanwhile: nothing to count
            if issued_at is not None and tombstones.deleted_after(conn, name, issued_at):
                raise DeletedSince(f"{name} was deleted after this push's token was issued; log in again")
            self._count_creation(conn, namespace, created_by)
            is_private = bool(q.default_private(conn, namespace))
            if repository_rows.create(conn, name, is_private=is_private, now=q.now(), created_by=creator):
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
        with self.db.read.connect() as conn:
            return repository_rows.rows(conn, namespace)

    @offload
    def set_visibility(self, name: str, private: bool, *, actor: str | None = None) -> RepositoryInfo:
        with self.db.write.begin() as conn:
            info = q.repository(conn, name)
            if info is None:
                raise NotFound(f"repository {name!r} does not exist")
            if info.is_private != private:
                repository_rows.set_private(conn, info.id, private)
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
        with self.db.write.begin() as conn:
            if not repository_rows.describe(conn, name, description, full_description):
                raise NotFound(f"repository {name!r} does not exist")
            info = q.repository(conn, name)
        assert info is not None
        return info
