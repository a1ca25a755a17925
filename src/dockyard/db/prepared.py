"""A statement compiled once for the driver's cursor: its SQL text, the order of its parameters
and their type conversions (timestamps as text on SQLite). Used by registry/prepared.py (a tag
PUT's statements) and points.py (point reads)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any


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
