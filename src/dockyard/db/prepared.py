"""A statement compiled once for the driver's cursor: its SQL text, the order of its parameters
and their type conversions (timestamps as text on SQLite). Used by registry/prepared.py (a tag
PUT's statements) and points.py (point reads)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.sql import Executable


class Compiled:
    __slots__ = ("names", "processors", "sql")

    def __init__(self, statement: Any, dialect: Any, column_keys: Sequence[str] | None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(column_keys) if column_keys else None)
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        bind: Mapping[str, Callable[[Any], Any]] = compiled._bind_processors
        self.processors: tuple[Callable[[Any], Any] | None, ...] = tuple(bind.get(n) for n in self.names)

    def values(self, params: Mapping[str, Any]) -> list[Any]:
        return [
            value if process is None else process(value)
            for value, process in zip((params[n] for n in self.names), self.processors, strict=True)
        ]


class CompiledCache:
    """Each statement compiled once per cache, by identity: the statements are module constants
    built once. Two threads compiling one statement at once both get a correct Compiled."""

    def __init__(self) -> None:
        self._compiled: dict[int, Compiled] = {}
        self._keep: list[Executable] = []  # the statements, so their ids stay theirs

    def get(self, statement: Executable, dialect: Any, column_keys: Sequence[str] = ()) -> Compiled:
        compiled = self._compiled.get(id(statement))
        if compiled is None:
            compiled = Compiled(statement, dialect, column_keys)
            self._keep.append(statement)
            self._compiled[id(statement)] = compiled
        return compiled
