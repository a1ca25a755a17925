"""Point reads by key on SQLite without SQLAlchemy's per-call machinery.

A read through ``Engine.connect()`` checks a connection out of the pool, builds a Connection, an
execution context and a result, then returns the connection (a rollback): ~100 us of Python for
a read SQLite answers in ~5 us from its page cache. The requests every push and pull makes
(does this repository exist) are such reads. ``PointReads.one`` runs a statement, compiled once,
on a raw read-only connection that belongs to the calling thread. Values come back as the
driver gives them (integers, text): only for statements whose columns need no type conversion.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.sql import Executable

from dockyard.db.prepared import CompiledCache


class PointReads:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.path = engine.url.database or ""
        self._local = threading.local()
        self._compiled = CompiledCache()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @staticmethod
    def usable(engine: Engine) -> bool:
        """A plain file: not in memory (a second connection would open another, empty database),
        nor a URI with options this module would not pass on."""
        path = engine.url.database or ""
        plain = path not in ("", ":memory:") and not path.startswith("file:") and not engine.url.query
        return engine.dialect.name == "sqlite" and plain

    def one(self, statement: Executable, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        compiled = self._compiled.get(statement, self.engine.dialect)
        cursor = self._connection().execute(compiled.sql, compiled.values(params))
        try:
            row: tuple[Any, ...] | None = cursor.fetchone()
        finally:
            cursor.close()  # resets the statement: no read snapshot stays open (checkpoints wait on those)
        return row

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA query_only=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()
