"""Typed errors of the builds domain; routes map each to one HTTP status.

BuildError
├── NotFound         no such link or build                       404
├── InvalidRequest   a bad rule, ref, parameter or payload       400
├── Unauthorized     bad signature, token or secret              401
├── Forbidden        the caller sees the repository, may not do  403
│                    this (not an admin; library/ for non-admins)
└── TooManyRequests  the queue limit is reached, or the login    429
    └── QueueFull    is throttled (Retry-After)
"""

from __future__ import annotations


class BuildError(Exception):
    status = 400

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class NotFound(BuildError):
    status = 404


class InvalidRequest(BuildError):
    status = 400


class Unauthorized(BuildError):
    status = 401


class Forbidden(BuildError):
    status = 403


class TooManyRequests(BuildError):
    status = 429


class QueueFull(TooManyRequests):
    pass
