"""Hot statements compiled once and run on the driver's cursor, on SQLite.

SQLAlchemy spends 30-40 us of Python on each ``Connection.execute`` of a statement it has already
compiled (cache key, execution context, result set-up, events), against ~5 us that SQLite itself
takes for a point read or a one-row write. A tag PUT runs a handful of such statements in its
transaction, so on SQLite ``Statements`` compiles each of them once (the SQL text, the order of its
parameters and their type conversions, e.g. timestamps as text) and executes them on the
transaction's own DBAPI connection: the same transaction, the same values stored, a fifth of the
Python. Other databases go through ``Connection.execute`` as before.

Only statements whose every parameter is supplied by the caller qualify: no expanding ``IN``
lists, no column defaults filled in at execution (pass ``column_keys`` for an INSERT so that the
columns left out are not compiled in; a statement is compiled once, so it always gets the same
``column_keys``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.sql import Executable

from dockyard.db.prepared import Compiled, CompiledCache


class Statements:
    """``execute`` and ``scalar`` for a fixed set of hot statements, compiled per statement on
    first use (SQLite only; elsewhere plain ``Connection.execute``)."""

    def __init__(self, dialect_name: str) -> None:
        self.enabled = dialect_name == "sqlite"
        self._cache = CompiledCache()

    def execute(
        self,
        conn: Connection,
        statement: Executable,
        params: Mapping[str, Any],
        column_keys: Sequence[str] = (),
    ) -> None:
        if not self.enabled:
            conn.execute(statement, dict(params))
            return
        compiled = self._compile(conn, statement, column_keys)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, compiled.values(params))
        finally:
            cursor.close()

    def scalar(self, conn: Connection, statement: Executable, params: Mapping[str, Any]) -> Any:
        """The first column of the only row, or None when there is no row."""
        if not self.enabled:
            return conn.execute(statement, dict(params)).scalar_one_or_none()
        compiled = self._compile(conn, statement, ())
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            row = cursor.execute(compiled.sql, compiled.values(params)).fetchone()
        finally:
            cursor.close()
        return None if row is None else row[0]

    def rows(
        self, conn: Connection, statement: Executable, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        if not self.enabled:
            return [tuple(row) for row in conn.execute(statement, dict(params))]
        compiled = self._compile(conn, statement, ())
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            return list(cursor.execute(compiled.sql, compiled.values(params)).fetchall())
        finally:
            cursor.close()

    def _compile(self, conn: Connection, statement: Executable, column_keys: Sequence[str]) -> Compiled:
        return self._cache.get(statement, conn.dialect, column_keys)
