"""Listings and search of repositories as a viewer may see them, done by the database.

The registry's catalog read model (``registry/catalog.py``) holds the filters, the orders and the
page; the accounts' visibility rule (``accounts.access.readable``) and the hub's stars come in as
SQL conditions, so the rule, the order and the page stay one query (three statements) whatever
the number of repositories. Pages are keyset-paged: a cursor from one page's links starts the
next (``db/keyset.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy.sql.elements import ColumnElement

from dockyard.accounts.access import readable
from dockyard.accounts.records import Principal
from dockyard.db.engine import Database, offload
from dockyard.db.keyset import Cursors, Keyset
from dockyard.hub.records import RepositoryOrdering, RepositorySummary
from dockyard.registry import catalog
from dockyard.registry.catalog import in_namespace, matching, named, relevance, with_ids

__all__ = [
    "ORDERS",
    "Found",
    "Listings",
    "in_namespace",
    "matching",
    "named",
    "relevance",
    "summary",
    "with_ids",
]

# The same orders, under the names the hub's API and pages take (``RepositoryOrdering``).
ORDERS = cast(dict[RepositoryOrdering, Keyset], catalog.ORDERS)


@dataclass(frozen=True, slots=True)
class Found:
    items: list[RepositorySummary]
    count: int
    cursors: Cursors


class Listings:
    def __init__(self, database: Database) -> None:
        self.db = database

    @offload
    def page(
        self,
        viewer: Principal | None,
        condition: ColumnElement[bool] | None,
        order: Keyset,
        *,
        cursor: str | None,
        offset: int,
        limit: int,
    ) -> Found:
        """Raises ``InvalidCursor`` for a cursor that is not one of ``order``'s."""
        where = readable(viewer) if condition is None else condition & readable(viewer)
        with self.db.read.connect() as conn:
            found = catalog.page(conn, where, order, cursor=cursor, offset=offset, limit=limit)
        return Found([summary(row) for row in found.rows], found.count, found.cursors)


def summary(row: catalog.RepositoryRow) -> RepositorySummary:
    return RepositorySummary(
        name=row.name,
        namespace=row.namespace,
        is_private=row.is_private,
        description=row.description,
        star_count=row.star_count,
        pull_count=row.pull_count,
        created_at=row.created_at,
        last_pushed_at=row.pushed_at,
    )
