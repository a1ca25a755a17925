"""db/keyset.py on its own: the seek predicate it writes for mixed directions, the keys it refuses,
and cursors that survive a round trip while anything else is ``InvalidCursor``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.dialects import postgresql

from dockyard.db.keyset import InvalidCursor, Keyset, _beyond

table = Table(
    "items",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("pulls", Integer, nullable=False),
    Column("name", String(50), nullable=False),
    Column("seen", DateTime(timezone=True), nullable=False),
    Column("note", String(50), nullable=True),
)
ORDER = Keyset("-pulls", (table.c.pulls.desc(), table.c.name))


def sql(clause: Any) -> str:
    compiled = clause.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    return " ".join(str(compiled).split())


def test_mixed_directions_are_written_out_with_a_leading_bound() -> None:
    """``pulls DESC, name ASC`` after (5, 'b'): fewer pulls, or as many and a later name; the
    leading ``pulls <= 5`` lets the planner start the index scan at the cursor."""
    after = sql(_beyond(ORDER.keys, (5, "b"), backwards=False))
    assert after == ("items.pulls <= 5 AND (items.pulls < 5 OR items.pulls = 5 AND items.name > 'b')")
    before = sql(_beyond(ORDER.keys, (5, "b"), backwards=True))
    assert before == ("items.pulls >= 5 AND (items.pulls > 5 OR items.pulls = 5 AND items.name < 'b')")


def test_keys_that_could_be_null_or_are_not_plain_directions_are_refused() -> None:
    with pytest.raises(TypeError, match="NULL"):
        Keyset("note", (table.c.note,))
    with pytest.raises(TypeError, match="ascending or descending"):
        Keyset("name", (table.c.name.desc().nulls_last(),))


def test_a_cursor_round_trips_and_its_direction_and_ordering_are_checked() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        sqlite = True
        cursor = ORDER.encode([7, "alice/app"], before=False)
        assert ORDER.decode(cursor, sqlite).values == (7, "alice/app")
        assert ORDER.decode(ORDER.encode([7, "x"], before=True), sqlite).before
        with pytest.raises(InvalidCursor, match="another ordering"):
            Keyset("name", (table.c.name,)).decode(cursor, sqlite)
        query, window = ORDER.page(select(table.c.id), conn, cursor=cursor, offset=40, limit=10)
        assert query._offset_clause is None  # a cursor page never skips rows
        assert window.position is not None and window.position.values == (7, "alice/app")


def test_timestamps_are_instants_on_postgresql_and_stored_text_on_sqlite() -> None:
    order = Keyset("seen", (table.c.seen, table.c.name))
    instant = datetime(2026, 3, 1, 12, 0, 0, 250, tzinfo=UTC)
    cursor = order.encode([instant, "a"], before=False)
    assert order.decode(cursor, sqlite=False).values == (instant, "a")
    assert order.decode(cursor, sqlite=True).values == (instant.isoformat(), "a")
    for bad in ("yesterday", "2026-03-01T12:00:00", 5):  # malformed, without an offset, a number
        with pytest.raises(InvalidCursor):
            order.decode(order.encode([bad, "a"], before=False), sqlite=False)
