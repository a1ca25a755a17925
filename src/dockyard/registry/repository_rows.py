"""The repository row for the accounts: its settings (visibility, descriptions, who made it) and
the reads that access and creation limits decide on, inside the caller's connection or transaction.

The registry owns ``repositories``: with ``store.py`` (pushes, mounts, cache fills, deletions)
and ``views.py`` (the hub's counters) this module is its only writer. The accounts decide who may
create or change a repository and call these inside their own transaction, so the audit row, the
creation limit and the tombstone check land with the change or not at all.

    RepositoryRow                                  a repository's row, as a record
    row(conn, name) / rows(conn, namespace)        one by name / every one (of a namespace), by name
    exists(conn, name) / exists_point(db, name)    whether it exists: in a transaction / a point read
    visibility(conn, name)                         its id and visibility, the statement built once
    held(conn, namespace, at_most)                 how many a namespace holds, counted up to at_most
    names_by_id(conn, ids)                         {id: name} of those that exist
    create(conn, name, ...)                        a new row with the settings given; False when taken
    set_private(conn, repo_id, private)            its visibility
    describe(conn, name, description, full)        its descriptions; False when there is no such one
    visible(namespaces, ids) / public()            a condition on repositories (the pull rule's terms)
    names_within(conn, condition, names)           those of the names the condition lets through
    name_page(conn, condition, limit, last)        a page of the names it lets through, bytewise
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, false, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from dockyard import names
from dockyard.clock import utc
from dockyard.db.engine import Database
from dockyard.registry.records import Page
from dockyard.registry.store import REPOSITORY_ID, repositories

_r = repositories.c
_ROW = select(
    _r.id,
    _r.name,
    _r.namespace,
    _r.is_private,
    _r.description,
    _r.full_description,
    _r.created_at,
    _r.pushed_at,
    _r.created_by,
)
_VISIBILITY = select(_r.id, _r.is_private).where(_r.name == bindparam("name"))
_CHUNK = 500  # names per IN list


@dataclass(frozen=True, slots=True)
class RepositoryRow:
    id: int
    name: str
    namespace: str  # from the name on rows written before the column existed
    is_private: bool
    description: str
    full_description: str
    created_at: datetime
    pushed_at: datetime | None
    created_by: str | None


@dataclass(frozen=True, slots=True)
class Visibility:
    id: int
    is_private: bool


# -- reads --------------------------------------------------------------------------------------------


def row(conn: Connection, name: str) -> RepositoryRow | None:
    found = conn.execute(_ROW.where(_r.name == name)).first()
    return None if found is None else _record(found)


def rows(conn: Connection, namespace: str | None = None) -> list[RepositoryRow]:
    """Every repository (of ``namespace`` when given), by name."""
    query = _ROW.order_by(_r.name)
    if namespace is not None:
        query = query.where(_r.namespace == namespace)
    return [_record(found) for found in conn.execute(query).all()]


def exists(conn: Connection, name: str) -> bool:
    return conn.execute(REPOSITORY_ID, {"name": name}).first() is not None


def exists_point(database: Database, name: str) -> bool:
    """``exists`` outside a transaction, as a point read by key (``Database.point``): the guard
    asks it before every upload and manifest PUT."""
    return database.point(REPOSITORY_ID, {"name": name}) is not None


def visibility(conn: Connection, name: str) -> Visibility | None:
    """Its id and whether it is private: what access is decided on (no README read)."""
    found = conn.execute(_VISIBILITY, {"name": name}).first()
    return None if found is None else Visibility(int(found.id), bool(found.is_private))


def held(conn: Connection, namespace: str, at_most: int | None = None) -> int:
    """How many repositories ``namespace`` holds; with ``at_most``, counting stops there (a cap's check)."""
    ids = select(_r.id).where(_r.namespace == namespace)
    if at_most is not None:
        ids = ids.limit(at_most)
    return int(conn.execute(select(func.count()).select_from(ids.subquery())).scalar_one())


def names_by_id(conn: Connection, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    query = select(_r.id, _r.name).where(_r.id.in_(list(ids)))
    return {int(repo_id): str(name) for repo_id, name in conn.execute(query).all()}


# -- writes -------------------------------------------------------------------------------------------


def create(
    conn: Connection,
    name: str,
    *,
    is_private: bool,
    now: datetime,
    description: str = "",
    full_description: str = "",
    created_by: str | None = None,
) -> bool:
    """Insert the repository with these settings; False (and nothing written) when the name is
    taken already, by a concurrent push too."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(repositories).values(
        name=name,
        created_at=now,
        is_private=is_private,
        description=description,
        full_description=full_description,
        created_by=created_by,
    )
    return bool(conn.execute(statement.on_conflict_do_nothing(index_elements=["name"])).rowcount)


def set_private(conn: Connection, repo_id: int, private: bool) -> None:
    conn.execute(update(repositories).where(_r.id == repo_id).values(is_private=private))


def describe(conn: Connection, name: str, description: str, full_description: str | None = None) -> bool:
    """Set the short description (and the README when given); False when there is no such repository."""
    values: dict[str, str] = {"description": description}
    if full_description is not None:
        values["full_description"] = full_description
    return bool(conn.execute(update(repositories).where(_r.name == name).values(**values)).rowcount)


# -- conditions, for listings that filter in the database ---------------------------------------------


def public() -> ColumnElement[bool]:
    return _r.is_private == false()


def visible(
    namespaces: Sequence[str | Select[Any]] = (), ids: Sequence[Select[Any]] = ()
) -> ColumnElement[bool]:
    """A repository that is public, or in one of ``namespaces`` (a name, or a select of names), or
    whose id one of ``ids`` (selects of repository ids: another package's grants) holds."""
    terms = [public()]
    terms += [_r.namespace == ns if isinstance(ns, str) else _r.namespace.in_(ns) for ns in namespaces]
    terms += [_r.id.in_(granted) for granted in ids]
    return terms[0] if len(terms) == 1 else or_(*terms)


def names_within(conn: Connection, condition: ColumnElement[bool], names: Iterable[str]) -> set[str]:
    """Those of ``names`` that exist and ``condition`` lets through."""
    wanted = list(dict.fromkeys(names))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        query = select(_r.name).where(_r.name.in_(wanted[start : start + _CHUNK]), condition)
        found.update(conn.execute(query).scalars())
    return found


def name_page(conn: Connection, condition: ColumnElement[bool], limit: int | None, last: str | None) -> Page:
    """The names ``condition`` lets through after ``last``, sorted bytewise whatever the database's
    locale, at most ``limit`` of them; ``Page.last`` is set when more follow."""
    ordered = _r.name.collate("C" if conn.dialect.name == "postgresql" else "BINARY")
    query = select(_r.name).where(condition).order_by(ordered)
    if last is not None:
        query = query.where(ordered > last)
    if limit is not None:
        query = query.limit(limit + 1)
    items = list(conn.execute(query).scalars())
    if limit is not None and len(items) > limit:
        items = items[:limit]
        return Page(items, items[-1] if items else None)
    return Page(items, None)


def _record(found: Any) -> RepositoryRow:
    return RepositoryRow(
        id=int(found.id),
        name=found.name,
        namespace=found.namespace or names.namespace_of(found.name),
        is_private=bool(found.is_private),
        description=found.description,
        full_description=found.full_description,
        created_at=utc(found.created_at),
        pushed_at=None if found.pushed_at is None else utc(found.pushed_at),
        created_by=found.created_by,
    )
