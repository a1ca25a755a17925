"""Collaborators: users given read, write or admin on one repository of a personal namespace, as
Docker Hub's Collaborators tab gives them. Organisations share through teams instead, and
library/* through site administrators, so neither takes collaborators.

A collaborator row hangs off the repository and the user (ON DELETE CASCADE): deleting either
deletes it, so a repository deleted and created again under the same name starts unshared.
What a permission allows is the policy's (policy.py, the "collaborator" row).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from dockyard.accounts import _queries as q
from dockyard.accounts import names
from dockyard.accounts._queries import PERMISSIONS, collaborators, namespaces, users
from dockyard.accounts.audit import write_event
from dockyard.accounts.errors import InvalidInput, NotFound
from dockyard.accounts.records import Collaborator, EventKind, Permission
from dockyard.db.engine import offload
from dockyard.registry import views as registry_views

COLLABORATOR_COLUMNS = (
    namespaces.c.name.label("username"),
    users.c.id.label("user_id"),
    collaborators.c.permission,
    collaborators.c.created_at,
)


class Collaborators(q.ServicePart):
    @offload
    def list_collaborators(self, repository: str) -> list[Collaborator]:
        with self.db.read.connect() as conn:
            repository = names.canonical_repository(repository)
            return _collaborators(conn, q.require_repository(conn, repository), repository)

    @offload
    def get_collaborator(self, repository: str, username: str) -> Collaborator:
        with self.db.read.connect() as conn:
            repository = names.canonical_repository(repository)
            found = _collaborators(conn, q.require_repository(conn, repository), repository, username)
        if not found:
            raise NotFound(f"{username!r} is not a collaborator on {repository!r}")
        return found[0]

    @offload
    def set_collaborator(
        self, repository: str, username: str, permission: str, *, actor: str | None = None
    ) -> Collaborator:
        """Add a collaborator with a permission, or change theirs."""
        if permission not in PERMISSIONS:
            raise InvalidInput(f"permission must be one of {', '.join(PERMISSIONS)}, not {permission!r}")
        repository = names.canonical_repository(repository)
        owner = names.namespace_of(repository)
        with self.db.write.begin() as conn:
            repo_id = q.require_repository(conn, repository)
            _require_personal(conn, repository, owner)
            user = q.require_user(conn, username)
            if user.username == owner:
                raise InvalidInput(f"{username!r} owns {repository!r} and needs no permission on it")
            where = (collaborators.c.repository_id == repo_id, collaborators.c.user_id == user.id)
            previous = conn.execute(select(collaborators.c.permission).where(*where)).scalar_one_or_none()
            if previous is None:
                conn.execute(
                    collaborators.insert().values(
                        repository_id=repo_id, user_id=user.id, permission=permission, created_at=q.now()
                    )
                )
            elif previous != permission:
                conn.execute(update(collaborators).where(*where).values(permission=permission))
            if previous != permission:
                detail = {"user": username, "permission": permission, "previous": previous}
                kind = EventKind.COLLABORATOR_CHANGED
                write_event(conn, kind, actor=actor, target=repository, detail=detail)
            return _collaborators(conn, repo_id, repository, username)[0]

    @offload
    def remove_collaborator(self, repository: str, username: str, *, actor: str | None = None) -> None:
        repository = names.canonical_repository(repository)
        with self.db.write.begin() as conn:
            repo_id = q.require_repository(conn, repository)
            user = q.require_user(conn, username)
            result = conn.execute(
                collaborators.delete().where(
                    collaborators.c.repository_id == repo_id, collaborators.c.user_id == user.id
                )
            )
            if not result.rowcount:
                raise NotFound(f"{username!r} is not a collaborator on {repository!r}")
            detail = {"user": username, "permission": None}
            write_event(conn, EventKind.COLLABORATOR_CHANGED, actor=actor, target=repository, detail=detail)

    @offload
    def collaborator_counts(self, repositories_: Iterable[str]) -> dict[str, int]:
        """How many collaborators each of these repositories has (Docker Hub's collaborator_count)."""
        wanted = sorted(set(repositories_))
        if not wanted:
            return {}
        with self.db.read.connect() as conn:
            ids = registry_views.repository_ids(conn, wanted)
            query = (
                select(collaborators.c.repository_id, func.count())
                .where(collaborators.c.repository_id.in_(list(ids.values())))
                .group_by(collaborators.c.repository_id)
            )
            counted = {int(repo_id): int(count) for repo_id, count in conn.execute(query).all()}
        return {name: counted.get(repo_id, 0) for name, repo_id in ids.items()}


def _require_personal(conn: Connection, repository: str, owner: str) -> None:
    kind = conn.execute(select(namespaces.c.kind).where(namespaces.c.name == owner)).scalar_one_or_none()
    if kind != "user":
        raise InvalidInput(
            f"{repository!r} is not a personal repository: share an organisation's repositories "
            "through its teams"
        )


def _collaborators(
    conn: Connection, repo_id: int, repository: str, username: str | None = None
) -> list[Collaborator]:
    """The collaborators of the repository ``repo_id`` (named ``repository``), by username."""
    query = (
        select(*COLLABORATOR_COLUMNS)
        .select_from(collaborators.join(users).join(namespaces))
        .where(collaborators.c.repository_id == repo_id)
        .order_by(namespaces.c.name)
    )
    if username is not None:
        query = query.where(namespaces.c.name == username)
    return [
        Collaborator(
            repository, row.username, row.user_id, cast(Permission, row.permission), q.utc(row.created_at)
        )
        for row in conn.execute(query).all()
    ]
