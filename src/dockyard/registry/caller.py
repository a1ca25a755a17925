"""What the registry handlers may ask about the caller, without knowing about tokens or accounts.

The registry declares what it needs; the layer above that authenticates (``auth.guard``'s
``TokenCaller``) implements it and stores one in the ASGI scope. With ``auth = "none"`` there is
none and everything is visible.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Protocol

CALLER_KEY = "dockyard.caller"


class Caller(Protocol):
    @property
    def username(self) -> str | None:
        """The account behind the request's token; None for anonymous tokens."""

    def may_pull(self, repository: str) -> bool:
        """Whether the caller's token grants pull on ``repository`` (any spelling of the name)."""

    async def readable(self, repositories: list[str]) -> list[str]:
        """The canonical ``repositories`` the caller may read, in order."""

    async def catalog(self, limit: int | None, last: str | None) -> tuple[list[str], str | None]:
        """One page of the repositories the caller may read: (names, last name when more follow)."""


def caller_of(scope: MutableMapping[str, Any]) -> Caller | None:
    caller: Caller | None = scope.get(CALLER_KEY)
    return caller
