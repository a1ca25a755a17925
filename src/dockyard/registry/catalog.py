"""The registry's read model for listings and search of repositories, done by the database.

The packages above (the hub's pages and API) list repositories through this module, never through
the registry's tables. They bring the conditions that are theirs (the accounts' visibility rule,
a user's stars) as SQL conditions; the filters, the orders and the page are built here:

    in_namespace(ns) / named(text) / matching(text) / with_ids(subquery)   conditions
    ORDERS[key] / relevance(text)                                           orders (keysets)
    page(conn, where, order, cursor=, offset=, limit=) -> RepositoryPage    one page and the count
    detail(conn, name) -> RepositoryRow | None                              one, with its README

Every listing order has an index that hands rows over already sorted (``db/models.py``): a page
is read off the index from the cursor's position on and stops after ``limit + 1`` visible rows.
Search matches substrings, which no B-tree can seek, so it scans ``ix_repositories_search``
(narrow: no README in it) and ranks from that index alone. A page is three statements, whatever
the number of repositories: the ids of the page in order with their sort keys (from an index
only), their rows, and the count of everything that matches.

Pages are keyset-paged (``db/keyset.py``): each order ends with the unique name, a page's
``next`` cursor holds the sort keys of its last row and the next page seeks past them, so
following ``next`` never skips rows with OFFSET, and a repository created or pushed between two
pages neither repeats nor hides one seen before. A page asked for by number alone (Docker Hub's
``?page=N``, a jump in the web pager) is the fallback: OFFSET over the index order, which steps
over the index entries before it but never sorts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from dockyard.db.keyset import Cursors, Keyset
from dockyard.registry.store import repositories

LIBRARY = "library"
_r = repositories.c

# The ascending twins ("-name", "last_pushed", "pulls") are their index read backwards.
ORDERS: dict[str, Keyset] = {
    name: Keyset(name, order)
    for name, order in {
        "name": (_r.name,),
        "-name": (_r.name.desc(),),
        "-last_pushed": (_r.updated_at.desc(), _r.name),
        "last_pushed": (_r.updated_at, _r.name.desc()),
        "-stars": (_r.star_count.desc(), _r.pull_count.desc(), _r.name),
        "-pulls": (_r.pull_count.desc(), _r.star_count.desc(), _r.name),
        "pulls": (_r.pull_count, _r.star_count, _r.name.desc()),
    }.items()
}
_ROW_COLUMNS = (
    _r.id,
    _r.name,
    _r.namespace,
    _r.is_private,
    _r.description,
    _r.created_at,
    _r.pushed_at,
    _r.star_count,
    _r.pull_count,
)
_DETAIL = select(*_ROW_COLUMNS, _r.full_description, _r.created_by)


@dataclass(frozen=True, slots=True)
class RepositoryRow:
    """A repository as listings show it; ``full_description`` and ``created_by`` only from ``detail``."""

    id: int
    name: str
    namespace: str
    is_private: bool
    description: str
    created_at: datetime
    pushed_at: datetime | None
    star_count: int
    pull_count: int
    full_description: str = ""
    created_by: str | None = None


@dataclass(frozen=True, slots=True)
class RepositoryPage:
    rows: list[RepositoryRow]
    count: int  # everything that matches, not only this page
    cursors: Cursors  # where the pages beside this one start


def in_namespace(namespace: str) -> ColumnElement[bool]:
    return _r.namespace == namespace


def named(text: str) -> ColumnElement[bool]:
    """The name after the namespace contains ``text`` (Docker Hub's ``name`` filter)."""
    short = func.substr(_r.name, func.length(_r.namespace) + 2)
    return short.contains(text, autoescape=True)


def matching(text: str) -> ColumnElement[bool]:
    """Name or short description contains ``text`` (lowercase already; names are lowercase)."""
    return or_(
        _r.name.contains(text, autoescape=True),
        func.lower(_r.description).contains(text, autoescape=True),
    )


def with_ids(ids: Any) -> ColumnElement[bool]:
    """The repository's id is in ``ids`` (a subquery of another package: a user's stars)."""
    return _r.id.in_(ids)


def relevance(text: str) -> Keyset:
    """Exact short name, then short names that start with the text, official images, stars, pulls.
    (A cursor holds the first three as 0 or 1; it is a position for any search text.)"""
    short = func.substr(_r.name, func.length(_r.namespace) + 2)
    return Keyset(
        "relevance",
        (
            case((short == text, 1), else_=0).desc(),
            case((short.startswith(text, autoescape=True), 1), else_=0).desc(),
            case((_r.namespace == LIBRARY, 1), else_=0).desc(),
            _r.star_count.desc(),
            _r.pull_count.desc(),
            _r.name,
        ),
    )


def page(
    conn: Connection,
    where: ColumnElement[bool] | None,
    order: Keyset,
    *,
    cursor: str | None = None,
    offset: int = 0,
    limit: int,
) -> RepositoryPage:
    """One page: after or before ``cursor`` when given (``InvalidCursor`` when it is not one of
    ``order``'s), else after ``offset`` rows."""
    ids_query, window = order.page(select(_r.id), conn, cursor=cursor, offset=offset, limit=limit)
    count_query = select(func.count()).select_from(repositories)
    if where is not None:
        ids_query, count_query = ids_query.where(where), count_query.where(where)
    found, cursors = window.cut(conn.execute(ids_query).all())
    ids = [int(r.id) for r in found]
    rows = conn.execute(select(*_ROW_COLUMNS).where(_r.id.in_(ids))).all() if ids else []
    count = conn.execute(count_query).scalar_one()
    by_id = {row.id: row for row in rows}
    # One deleted in between is skipped.
    return RepositoryPage([_row(by_id[i]) for i in ids if i in by_id], int(count), cursors)


def detail(conn: Connection, name: str) -> RepositoryRow | None:
    row = conn.execute(_DETAIL.where(_r.name == name)).first()
    if row is None:
        return None
    return _row(row, full_description=row.full_description or "", created_by=row.created_by)


def _row(row: Any, **more: Any) -> RepositoryRow:
    return RepositoryRow(
        id=int(row.id),
        name=row.name,
        namespace=row.namespace,
        is_private=bool(row.is_private),
        description=row.description,
        created_at=_utc(row.created_at),
        pushed_at=None if row.pushed_at is None else _utc(row.pushed_at),
        star_count=int(row.star_count),
        pull_count=int(row.pull_count),
        **more,
    )


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every value stored is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
