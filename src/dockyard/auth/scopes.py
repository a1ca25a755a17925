"""Resource scopes as clients ask for them and as tokens grant them.

    scope    := type ":" name ":" actions            (several per request: repeated, or space-separated)
    type     := "repository" | "repository(" class ")" | "registry"
    name     := a repository name, or "catalog" for the registry type (names never contain ":")
    actions  := action ("," action)*                 action := "pull" | "push" | "delete" | "*"

The first ``:`` ends the type and the last one starts the actions. Unknown types and
malformed entries are ignored: they grant nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.names import canonical_or_none

REPOSITORY = "repository"
REGISTRY = "registry"
CATALOG = "catalog"
REPOSITORY_ACTIONS = frozenset({"pull", "push", "delete"})
MAX_SCOPES = 64


@dataclass(frozen=True, slots=True)
class Scope:
    """One requested or granted resource: the name is kept as the client wrote it."""

    type: str
    name: str
    actions: frozenset[str]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"

    def claim(self) -> dict[str, object]:
        return {"type": self.type, "name": self.name, "actions": sorted(self.actions)}


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Every well-formed scope in the request, in order, duplicates merged."""
    merged: dict[tuple[str, str], frozenset[str]] = {}
    for value in values:
        for item in value.split():
            scope = parse_scope(item)
            if scope is not None and (key := (scope.type, scope.name)) not in merged:
                if len(merged) >= MAX_SCOPES:
                    break
                merged[key] = scope.actions
            elif scope is not None:
                merged[(scope.type, scope.name)] |= scope.actions
    return [Scope(kind, name, actions) for (kind, name), actions in merged.items()]


def parse_scope(item: str) -> Scope | None:
    kind, sep, rest = item.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not name:
        return None
    kind = kind.split("(", 1)[0] if kind.endswith(")") else kind  # repository(plugin) -> repository
    requested = frozenset(a for a in actions.split(",") if a)
    if kind == REPOSITORY and canonical(name) is not None:
        return Scope(kind, name, requested)
    if kind == REGISTRY and name == CATALOG:
        return Scope(kind, name, requested)
    return None


def canonical(name: str) -> str | None:
    """The canonical repository name (``library/`` for official images), or None when invalid."""
    return canonical_or_none(name)
