"""Read models of the registry's tables for the packages above, inside their own transactions
(an event handler's, a flush's): records out, never the tables themselves.

    repository_ids(conn, names)            {name: id} of those that exist
    repository_card(conn, id)              what a webhook payload says about a repository
    is_platform_image(conn, id, digest)    a manifest some index of the repository lists
    count_pulls(conn, id, n)               add to the pull count listings order by
    set_star_count(conn, id, counted)      the star count listings order by, from the hub's count
    recount_stars(conn, counted_by)        every starred repository's, ``counted_by(id column)``

The counters are the only writes here: they live on the registry's row, where listings order by
them, but the hub owns what they count.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from dockyard.registry.store import manifests, references, repositories


@dataclass(frozen=True, slots=True)
class RepositoryCard:
    id: int
    name: str
    created_at: datetime
    description: str
    full_description: str
    is_private: bool


def repository_ids(conn: Connection, names: Collection[str]) -> dict[str, int]:
    if not names:
        return {}
    query = select(repositories.c.name, repositories.c.id).where(repositories.c.name.in_(list(names)))
    return {str(name): int(repo_id) for name, repo_id in conn.execute(query).all()}


CARD = select(
    repositories.c.id,
    repositories.c.name,
    repositories.c.created_at,
    repositories.c.description,
    repositories.c.full_description,
    repositories.c.is_private,
).where(repositories.c.id == bindparam("repo_id"))


def repository_card(conn: Connection, repo_id: int) -> RepositoryCard | None:
    row = conn.execute(CARD, {"repo_id": repo_id}).first()
    if row is None:
        return None
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return RepositoryCard(
        int(row.id),
        row.name,
        created,
        row.description or "",
        row.full_description or "",
        bool(row.is_private),
    )


def repository_card_by_name(conn: Connection, name: str) -> RepositoryCard | None:
    repo_id = conn.execute(select(repositories.c.id).where(repositories.c.name == name)).scalar_one_or_none()
    return None if repo_id is None else repository_card(conn, int(repo_id))


def is_platform_image(conn: Connection, repo_id: int, digest: str) -> bool:
    query = (
        select(references.c.id)
        .select_from(references.join(manifests, references.c.manifest_id == manifests.c.id))
        .where(
            manifests.c.repository_id == repo_id,
            references.c.kind == "manifest",
            references.c.digest == digest,
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None


def count_pulls(conn: Connection, repo_id: int, count: int) -> None:
    conn.execute(
        update(repositories)
        .where(repositories.c.id == repo_id)
        .values(pull_count=repositories.c.pull_count + count)
    )


def set_star_count(conn: Connection, repo_id: int, counted: Any) -> int:
    """Set the star count to ``counted`` (a scalar subquery of the hub's stars); the new count."""
    query = (
        update(repositories)
        .where(repositories.c.id == repo_id)
        .values(star_count=counted)
        .returning(repositories.c.star_count)
    )
    return int(conn.execute(query).scalar_one())


def recount_stars(conn: Connection, counted_by: Callable[[Any], Any]) -> None:
    """Count again the stars of every starred repository: ``counted_by`` gets the repository id
    column and returns the hub's correlated count."""
    counted = counted_by(repositories.c.id)
    conn.execute(update(repositories).where(repositories.c.star_count > 0).values(star_count=counted))
