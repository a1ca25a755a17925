"""Errors of the hub. The hub speaks the accounts domain's error tree, so a caller catches one
``AccountError`` for both, and adds the one case accounts never needs:

AccountError                  (dockyard.accounts.errors)
├── InvalidInput              a value breaks a rule (the message says which)
├── AlreadyExists             the name is taken
├── NotFound                  no such repository, tag, webhook -- or one the viewer may not see
├── Conflict                  the change would break an invariant
└── PermissionDenied          the viewer sees the repository but may not do this to it

A private repository the viewer may not pull raises ``NotFound``, exactly as a missing one.
Messages are safe to show to the person who caused them. A listing's malformed cursor
(``InvalidCursor``) becomes ``InvalidInput`` through ``cursor_checked``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dockyard.accounts.errors import (
    AccountError,
    AlreadyExists,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,  # one class for both domains: the organisation pages raise it from accounts
)
from dockyard.db.keyset import InvalidCursor

__all__ = [
    "AccountError",
    "AlreadyExists",
    "Conflict",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "cursor_checked",
]


@contextmanager
def cursor_checked() -> Iterator[None]:
    """A listing's cursor that is not one of its own (``db/keyset.py``) is the caller's bad input."""
    try:
        yield
    except InvalidCursor as bad:
        raise InvalidInput(f"invalid cursor: {bad}; follow the next and previous links as given") from None
