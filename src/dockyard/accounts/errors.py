"""Typed errors of the accounts domain. Messages are safe to show to the person who caused them.

AccountError
├── InvalidInput            a value breaks a rule (the message says which)
│   ├── InvalidName         Docker ID, team or repository name
│   ├── InvalidPassword     too short, too long
│   └── InvalidScope        unknown personal access token scope
├── AlreadyExists           the name is taken
├── NotFound                no such user, organisation, team, repository or token
├── Conflict                the change would break an invariant (e.g. an organisation without owners)
├── RateLimited             too many sign-ups or new repositories within a window; retry_after seconds
├── QuotaExceeded           a namespace holds the most repositories it may
├── DeletedSince            a push would recreate a repository deleted after its token was issued
└── PermissionDenied        the caller sees the thing but may not do this to it
"""

from __future__ import annotations


class AccountError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(AccountError):
    pass


class InvalidName(InvalidInput):
    pass


class InvalidPassword(InvalidInput):
    pass


class InvalidScope(InvalidInput):
    pass


class AlreadyExists(AccountError):
    pass


class NotFound(AccountError):
    pass


class Conflict(AccountError):
    pass


class RateLimited(AccountError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QuotaExceeded(AccountError):
    pass


class PermissionDenied(AccountError):
    pass


class DeletedSince(AccountError):
    """A push with credentials issued before the repository's deletion: they may not recreate it."""
