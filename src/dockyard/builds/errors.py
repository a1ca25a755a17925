"""Typed errors of the builds domain; routes map each to one HTTP status.

BuildError
├── NotFound         no such link or build           404
├── InvalidRequest   a bad rule, ref or payload      400
├── Unauthorized     bad signature, token or secret  401
└── QueueFull        the queue limit is reached      429
"""

from __future__ import annotations


class BuildError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(BuildError):
    status = 404


class InvalidRequest(BuildError):
    status = 400


class Unauthorized(BuildError):
    status = 401


class QueueFull(BuildError):
    status = 429
