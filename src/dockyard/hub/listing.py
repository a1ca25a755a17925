"""Listings and search of repositories, done by the database.

The visibility rule (``accounts.access.readable``), the order and the page are all SQL, so a page
costs about the same with a hundred repositories or a hundred thousand. Every listing order has an
index that hands rows over already sorted (``db/models.py``): a page is read off the index and
stops after ``offset + limit`` visible rows. Search matches substrings, which no B-tree can seek,
so it scans ``ix_repositories_search`` (narrow: no README in it) and ranks from that index alone.

A page is three statements, whatever the number of repositories: the ids of the page in order
(from an index only), their summaries, and the count of everything visible that matches.

The hub API takes page numbers (Docker Hub's contract), so pages are OFFSET over the index order,
not keyset: the deepest page of 100,000 steps over the index entries before it, never sorts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from dockyard.accounts.access import readable
from dockyard.accounts.records import Principal
from dockyard.db.engine import Database, offload
from dockyard.hub.records import RepositoryOrdering, RepositorySummary
from dockyard.hub.tables import aware, repositories, utc

LIBRARY = "library"
_r = repositories.c

# The ascending twins ("-name", "last_pushed", "pulls") are their index read backwards.
ORDERS: dict[RepositoryOrdering, tuple[Any, ...]] = {
    "name": (_r.name,),
    "-name": (_r.name.desc(),),
    "-last_pushed": (_r.updated_at.desc(), _r.name),
    "last_pushed": (_r.updated_at, _r.name.desc()),
    "-stars": (_r.star_count.desc(), _r.pull_count.desc(), _r.name),
    "-pulls": (_r.pull_count.desc(), _r.star_count.desc(), _r.name),
    "pulls": (_r.pull_count, _r.star_count, _r.name.desc()),
}
SUMMARY_COLUMNS = (
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


@dataclass(frozen=True, slots=True)
class Found:
    items: list[RepositorySummary]
    count: int


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


class Listings:
    def __init__(self, database: Database) -> None:
        self.db = database

    @offload
    def page(
        self,
        viewer: Principal | None,
        condition: ColumnElement[bool] | None,
        order: Sequence[Any],
        *,
        offset: int,
        limit: int,
    ) -> Found:
        where = readable(viewer) if condition is None else condition & readable(viewer)
        ids_query = select(_r.id).where(where).order_by(*order).offset(offset).limit(limit)
        with self.db.read.connect() as conn:
            ids = list(conn.execute(ids_query).scalars())
            rows = conn.execute(select(*SUMMARY_COLUMNS).where(_r.id.in_(ids))).all() if ids else []
            count = conn.execute(select(func.count()).select_from(repositories).where(where)).scalar_one()
        by_id = {row.id: row for row in rows}
        items = [summary(by_id[i]) for i in ids if i in by_id]  # a row deleted in between is skipped
        return Found(items, int(count))


def summary(row: Any) -> RepositorySummary:
    return RepositorySummary(
        name=row.name,
        namespace=row.namespace,
        is_private=bool(row.is_private),
        description=row.description,
        star_count=int(row.star_count),
        pull_count=int(row.pull_count),
        created_at=utc(row.created_at),
        last_pushed_at=aware(row.pushed_at),
    )
