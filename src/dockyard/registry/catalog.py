"""The registry's read model for listings and search of repositories, done by the database.

The packages above (the hub's pages and API) list repositories through this module, never through
the registry's tables. They bring the conditions that are theirs (the accounts' visibility rule,
a user's stars) as SQL conditions; the filters, the orders and the page are built here:

    in_namespace(ns) / named(text) / matching(text) / with_ids(subquery)   conditions
    ORDERS[key] / relevance(text)                                           orders
    page(conn, where, order, offset=, limit=) -> RepositoryPage             one page and the count
    detail(conn, name) -> RepositoryRow | None                              one, with its README

Every listing order has an index that hands rows over already sorted (``db/models.py``): a page is
read off the index and stops after ``offset + limit`` visible rows. Search matches substrings,
which no B-tree can seek, so it scans ``ix_repositories_search`` (narrow: no README in it) and
ranks from that index alone. A page is three statements, whatever the number of repositories: the
ids of the page in order (from an index only), their rows, and the count of everything that matches.

The hub API takes page numbers (Docker Hub's contract), so pages are OFFSET over the index order,
not keyset: the deepest page of 100,000 steps over the index entries before it, never sorts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from dockyard.registry.store import repositories

LIBRARY = "library"
_r = repositories.c

# The ascending twins ("-name", "last_pushed", "pulls") are their index read backwards.
ORDERS: dict[str, tuple[Any, ...]] = {
    "name": (_r.name,),
    "-name": (_r.name.desc(),),
    "-last_pushed": (_r.updated_at.desc(), _r.name),
    "last_pushed": (_r.updated_at, _r.name.desc()),
    "-stars": (_r.star_count.desc(), _r.pull_count.desc(), _r.name),
    "-pulls": (_r.pull_count.desc(), _r.star_count.desc(), _r.name),
    "pulls": (_r.pull_count, _r.star_count, _r.name.desc()),
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


def relevance(text: str) -> tuple[Any, ...]:
    """Exact short name, then short names that start with the text, official images, stars, pulls."""
    short = func.substr(_r.name, func.length(_r.namespace) + 2)
    return (
        case((short == text, 1), else_=0).desc(),
        case((short.startswith(text, autoescape=True), 1), else_=0).desc(),
        case((_r.namespace == LIBRARY, 1), else_=0).desc(),
        _r.star_count.desc(),
        _r.pull_count.desc(),
        _r.name,
    )


def page(
    conn: Connection, where: ColumnElement[bool] | None, order: Sequence[Any], *, offset: int, limit: int
) -> RepositoryPage:
    ids_query = select(_r.id).order_by(*order).offset(offset).limit(limit)
    count_query = select(func.count()).select_from(repositories)
    if where is not None:
        ids_query, count_query = ids_query.where(where), count_query.where(where)
    ids = list(conn.execute(ids_query).scalars())
    rows = conn.execute(select(*_ROW_COLUMNS).where(_r.id.in_(ids))).all() if ids else []
    count = conn.execute(count_query).scalar_one()
    by_id = {row.id: row for row in rows}
    return RepositoryPage(
        [_row(by_id[i]) for i in ids if i in by_id], int(count)
    )  # one deleted in between is skipped


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
