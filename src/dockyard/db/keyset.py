"""Keyset (seek) pagination: a page starts where the last one ended, by the values of its sort
keys, and the database seeks there through the listing's index instead of reading and throwing
away every row before it (OFFSET). The same SQL on SQLite and PostgreSQL.

    order = Keyset("-last_pushed", (updated_at.desc(), name))   an ORDER BY, named; the last key unique
    query, window = order.page(select(...), conn, cursor=..., offset=0, limit=25)
    rows = conn.execute(query).all()
    rows, cursors = window.cut(rows)                             the page's rows; next and previous

A cursor is the sort keys of a page's last row (``after``: the next page) or first row (``before``:
the previous page), encoded as opaque text (url-safe base64 of a small JSON document). It is a
position, not a permission: the listing's conditions (visibility, filters) apply to every page
whatever the cursor says, so a forged one can only start a listing elsewhere, as ``?page=N`` can.
It is therefore validated, not signed: the ordering it was made for, its direction, the number
of keys and each value's type (strings without NUL and of bounded length, integers within 64
bits, timestamps with an offset) -- anything else is ``InvalidCursor``, never a database error.

Mixed directions (``updated_at DESC, name ASC``) rule out the row-value comparison
``(a, b) > (:a, :b)``, so the seek is written out: ``a < :a OR (a = :a AND b > :b)``, with
``a <= :a`` in front so the planner scans the index from the cursor on. Sort keys must be NOT
NULL columns or expressions (NULL compares to nothing): ``Keyset`` refuses a nullable column.

SQLite keeps timestamps as text and sorts them as text; rows written by different code paths
carry different spellings of one instant (with or without microseconds), so on SQLite a
timestamp key is compared as the text stored, exactly as ORDER BY compares it, and the cursor
carries that text. PostgreSQL compares instants (``timestamptz``), and the cursor carries ISO 8601.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Column, String, and_, or_, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select, operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlalchemy.types import TypeDecorator

MAX_CURSOR = 4096  # characters: a handful of keys, each bounded below
MAX_TEXT = 1024  # a string key: names, tags (the longest is 255)
MAX_INT = 2**63 - 1  # BIGINT
VERSION = 1
R = TypeVar("R")


class InvalidCursor(ValueError):
    """The cursor is not one this listing made (malformed, another ordering, wrong values)."""


@dataclass(frozen=True, slots=True)
class Key:
    expr: ColumnElement[Any]
    descending: bool
    kind: type  # str, int or datetime: what a cursor value must be


@dataclass(frozen=True, slots=True)
class Position:
    values: tuple[Any, ...]
    before: bool  # the page ends before these keys (a previous page); else it starts after them


@dataclass(frozen=True, slots=True)
class Cursors:
    """Where the pages beside one start: None when there is no such page (as far as it is known)."""

    after: str | None  # the next page
    before: str | None  # the previous page
    start: bool  # this page is the first: nothing comes before it


class Keyset:
    """An ORDER BY whose last key is unique within the listing, so that it is a total order."""

    def __init__(self, name: str, order: Sequence[Any]) -> None:
        self.name = name
        self.order = tuple(order)
        self.keys = tuple(_key(term) for term in self.order)

    def page(
        self, query: Select[Any], conn: Connection, *, cursor: str | None, offset: int, limit: int
    ) -> tuple[Select[Any], Window]:
        """``query`` with the sort keys added as columns, ordered and cut to one page (and one row
        more, which tells whether another page follows): after or before the cursor's row when
        there is a cursor, else after ``offset`` rows (the fallback for a jump to a page number)."""
        sqlite = conn.dialect.name == "sqlite"
        keys = [_comparable(key, sqlite) for key in self.keys]
        position = None if cursor is None else self.decode(cursor, sqlite)
        backwards = position is not None and position.before
        query = query.add_columns(*(k.expr.label(f"_key{i}") for i, k in enumerate(keys)))
        query = query.order_by(*(_direction(k, backwards) for k in keys)).limit(limit + 1)
        if position is not None:
            query = query.where(_beyond(keys, position.values, backwards))
        elif offset > 0:
            query = query.offset(offset)
        return query, Window(self, keys, position, offset, limit)

    def decode(self, cursor: str, sqlite: bool) -> Position:
        if len(cursor) > MAX_CURSOR:
            raise InvalidCursor("the cursor is too long")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            document = json.loads(raw)
        except (ValueError, binascii.Error):  # UnicodeDecodeError and JSONDecodeError included
            raise InvalidCursor("the cursor is not one this listing made") from None
        if not isinstance(document, dict) or set(document) != {"v", "o", "d", "k"}:
            raise InvalidCursor("the cursor is not one this listing made")
        if document["v"] != VERSION or document["d"] not in ("a", "b"):
            raise InvalidCursor("the cursor is not one this listing made")
        if document["o"] != self.name:
            raise InvalidCursor(f"the cursor belongs to another ordering than {self.name!r}")
        values = document["k"]
        keys = [_comparable(key, sqlite) for key in self.keys]
        if not isinstance(values, list) or len(values) != len(keys):
            raise InvalidCursor("the cursor is not one this listing made")
        return Position(
            tuple(_value(k.kind, v) for k, v in zip(keys, values, strict=True)), document["d"] == "b"
        )

    def encode(self, values: Sequence[Any], *, before: bool) -> str:
        plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
        document = {"v": VERSION, "o": self.name, "d": "b" if before else "a", "k": plain}
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(text).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class Window:
    """What ``Keyset.page`` asked for, to cut the rows it returns and make the cursors beside."""

    keyset: Keyset
    keys: list[Key]
    position: Position | None
    offset: int
    limit: int

    def cut(self, rows: Sequence[R]) -> tuple[list[R], Cursors]:
        """The page's rows in the listing's order, and the cursors of the pages either side."""
        more = len(rows) > self.limit
        page = list(rows[: self.limit])
        backwards = self.position is not None and self.position.before
        if backwards:
            page.reverse()
        first, last = (self._cursor(page[0], True), self._cursor(page[-1], False)) if page else (None, None)
        if backwards:  # fetched from the cursor towards the start: the cursor's row comes after
            return page, Cursors(after=last, before=first if more else None, start=not more)
        start = self.position is None and self.offset == 0
        return page, Cursors(after=last if more else None, before=None if start else first, start=start)

    def _cursor(self, row: Any, before: bool) -> str:  # a Row of the query ``page`` made
        mapping = row._mapping
        return self.keyset.encode([mapping[f"_key{i}"] for i in range(len(self.keys))], before=before)


def _key(term: Any) -> Key:
    descending = False
    expr = term
    if isinstance(term, UnaryExpression) and term.modifier in (operators.desc_op, operators.asc_op):
        descending, expr = term.modifier is operators.desc_op, term.element
    if isinstance(term, UnaryExpression) and term.modifier not in (operators.desc_op, operators.asc_op):
        raise TypeError(f"a keyset key is ascending or descending, nothing else: {term}")
    if isinstance(expr, Column) and expr.nullable:
        raise TypeError(f"a keyset key cannot be NULL, and {expr} may be")
    kind_type = expr.type.impl_instance if isinstance(expr.type, TypeDecorator) else expr.type
    kind = kind_type.python_type
    if kind not in (str, int, datetime):
        raise TypeError(f"a keyset key is text, an integer or a timestamp, not {kind}: {expr}")
    return Key(expr, descending, kind)


def _comparable(key: Key, sqlite: bool) -> Key:
    """On SQLite a timestamp compares as the text stored (see the module's docstring)."""
    if sqlite and key.kind is datetime:
        return Key(type_coerce(key.expr, String()), key.descending, str)
    return key


def _direction(key: Key, backwards: bool) -> Any:
    return key.expr.desc() if key.descending != backwards else key.expr.asc()


def _beyond(keys: Sequence[Key], values: Sequence[Any], backwards: bool) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order (strictly before it when ``backwards``)."""
    alternatives = []
    for i, key in enumerate(keys):
        ties = [keys[j].expr == values[j] for j in range(i)]
        alternatives.append(and_(*ties, _step(key, values[i], backwards, strict=True)))
    return and_(_step(keys[0], values[0], backwards, strict=False), or_(*alternatives))


def _step(key: Key, value: Any, backwards: bool, *, strict: bool) -> ColumnElement[bool]:
    forward = key.descending == backwards  # up the column's own order
    step: ColumnElement[bool]
    if forward:
        step = key.expr > value if strict else key.expr >= value
    else:
        step = key.expr < value if strict else key.expr <= value
    return step


def _value(kind: type, value: Any) -> Any:
    if kind is int and isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INT:
        return value
    if kind is str and isinstance(value, str) and len(value) <= MAX_TEXT and "\x00" not in value:
        return value
    if kind is datetime and isinstance(value, str) and len(value) <= 64:
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidCursor("the cursor holds a malformed timestamp") from None
        if instant.tzinfo is not None:
            return instant
    raise InvalidCursor("the cursor holds a value this listing does not sort by")
