"""Secrets: password hashing and personal access tokens.

Passwords are hashed with Argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane):
about 25 ms on one core, where argon2-cffi's default profile (64 MiB, 3 passes, 4 lanes) took
200 ms on a two-core host and 64 MiB per concurrent login. One lane because the server already
runs logins in parallel; a semaphore caps concurrent hashes at the CPU count, which bounds memory
(19 MiB each) and keeps a login flood from starving the registry's worker threads. Hashes made
with other parameters are upgraded at the next successful login.

Personal access tokens look like Docker Hub's: ``dckr_pat_`` and 36 URL-safe characters
(216 random bits). The first 12 characters are a non-secret lookup key, stored unique, so
verification is one indexed read; the whole token is stored as a SHA-256. A fast hash is enough
for a value this random: it cannot be guessed offline, whatever the hash costs.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
import threading
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dockyard.accounts.errors import InvalidPassword, InvalidScope
from dockyard.accounts.records import TOKEN_PREFIX, TOKEN_SCOPES

MIN_PASSWORD_LENGTH = 8
MAX_SECRET_BYTES = 1024  # longer credentials are refused before any hashing

TOKEN_BODY_LENGTH = 36
TOKEN_LOOKUP_LENGTH = 12
_TOKEN_RE = re.compile(rf"{re.escape(TOKEN_PREFIX)}[A-Za-z0-9_-]{{{TOKEN_BODY_LENGTH}}}", re.ASCII)


def default_hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def validate_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidPassword(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    if len(password.encode("utf-8", "surrogatepass")) > MAX_SECRET_BYTES:
        raise InvalidPassword(f"passwords are at most {MAX_SECRET_BYTES} bytes")
    if password.startswith(TOKEN_PREFIX):
        raise InvalidPassword(f"passwords may not start with {TOKEN_PREFIX!r}: that marks access tokens")
    return password


class Passwords:
    """Argon2id hashing with bounded concurrency and a dummy hash for unknown users."""

    def __init__(self, hasher: PasswordHasher | None = None, max_concurrent: int | None = None) -> None:
        self.hasher = hasher or default_hasher()
        self._slots = threading.BoundedSemaphore(max_concurrent or os.cpu_count() or 2)

    def hash(self, password: str) -> str:
        with self._slots:
            return self.hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> tuple[bool, str | None]:
        """(matches, a new hash when the stored one uses outdated parameters)."""
        with self._slots:
            try:
                self.hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False, None
            if self.hasher.check_needs_rehash(password_hash):
                return True, self.hasher.hash(password)
        return True, None

    def waste_time(self, password: str) -> None:
        """Verify against a dummy hash, so an unknown user costs what a wrong password costs."""
        self.verify(self._dummy_hash, password)

    @functools.cached_property
    def _dummy_hash(self) -> str:
        return self.hasher.hash(secrets.token_urlsafe(16))


# -- personal access tokens ------------------------------------------------------------------------


def new_token() -> tuple[str, str, str]:
    """(plaintext, lookup key, SHA-256 hex) of a fresh personal access token."""
    body = secrets.token_urlsafe(TOKEN_BODY_LENGTH * 3 // 4)
    assert len(body) == TOKEN_BODY_LENGTH
    plaintext = TOKEN_PREFIX + body
    return plaintext, body[:TOKEN_LOOKUP_LENGTH], token_hash(plaintext)


def token_lookup(secret: str) -> str | None:
    """The lookup key of something shaped like a token, else None."""
    if not _TOKEN_RE.fullmatch(secret):
        return None
    return secret[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + TOKEN_LOOKUP_LENGTH]


def token_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("ascii")).hexdigest()


def token_matches(plaintext: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(plaintext), stored_hash)


def looks_like_token(secret: str) -> bool:
    return secret.startswith(TOKEN_PREFIX)


def token_hint(lookup: str) -> str:
    return f"{TOKEN_PREFIX}{lookup}…"


def normalize_scopes(scopes: Iterable[str]) -> frozenset[str]:
    if isinstance(scopes, str):
        scopes = scopes.replace(",", " ").split()
    wanted = frozenset(scopes)
    if not wanted:
        raise InvalidScope(f"give at least one scope: {', '.join(TOKEN_SCOPES)}")
    unknown = sorted(wanted - set(TOKEN_SCOPES))
    if unknown:
        raise InvalidScope(f"unknown scope {unknown[0]!r}: use one of {', '.join(TOKEN_SCOPES)}")
    return wanted
