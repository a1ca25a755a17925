"""Signed JWTs: access tokens for the registry and refresh tokens for credential helpers.

An access token follows Docker's token spec::

    header  {"typ": "JWT", "alg": "ES256", "kid": "<libtrust key id>"}
    claims  {"iss", "sub", "aud": <service>, "exp", "nbf", "iat", "jti",
             "access": [{"type": "repository", "name": "alice/app", "actions": ["pull", "push"]}],
             "dockyard": {"uid", "admin", "tid", "scopes", "cv"}}  (the account, absent when anonymous)

A refresh token carries ``"use": "refresh"`` and the account (``uid``, ``tid`` when it came from a
personal access token, ``cv`` the account's credentials version at login) so it can be checked,
and revoked, at every use: a password change or a disabled account ends it. A token without
``cv`` (issued before versions existed) reads as version 0, the version nobody has any more once
their password changes. The account inside an access token is checked the same way, against a
short cache (auth/standing.py), by ``AuthService.verify``. Verification
accepts only ES256 under our ``kid``, our issuer and audience, and ``exp``/``nbf`` within a
small leeway. Verified access tokens are cached (bounded LRU, until they expire) because the
signature check costs ~100 us and one token serves hundreds of requests.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt

from dockyard.accounts.records import Principal
from dockyard.auth.keys import ALGORITHM, SigningKey
from dockyard.auth.scopes import Scope, canonical
from dockyard.clock import Clock, SystemClock

CACHE_SIZE = 10_000
REFRESH_USE = "refresh"


class InvalidToken(Exception):
    """The token is malformed, forged, expired or meant for someone else."""


def principal_claim(principal: Principal) -> dict[str, Any]:
    """The account inside an access token, so the registry needs no lookup to filter by it."""
    scopes = sorted(principal.token_scopes) if principal.token_scopes is not None else None
    return {
        "uid": principal.user_id,
        "admin": principal.is_admin,
        "tid": principal.token_id,
        "scopes": scopes,
        "cv": principal.credentials_version,
    }


def principal_from_claims(subject: str, claim: Any) -> Principal | None:
    if not subject or not isinstance(claim, dict) or not isinstance(claim.get("uid"), int):
        return None
    token_id, scopes = claim.get("tid"), claim.get("scopes")
    return Principal(
        subject,
        claim["uid"],
        claim.get("admin") is True,
        token_id if isinstance(token_id, int) else None,
        frozenset(scopes) if isinstance(scopes, list) else None,
        credentials_version(claim),
    )


def credentials_version(claims: dict[str, Any]) -> int:
    """The ``cv`` claim: 0 when absent (tokens from before versions existed), -1 (no account's)
    when it is not an integer."""
    version = claims.get("cv", 0)
    return version if isinstance(version, int) and not isinstance(version, bool) else -1


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A verified access token: the account (None when anonymous) and what it may do."""

    subject: str
    account: Principal | None
    expires_at: float
    # (type, canonical name) -> actions; repository names are canonical so that a grant
    # for "rockylinux" serves requests for "library/rockylinux" and the other way round.
    grants: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    issued_at: float | None = None  # the ``iat`` claim: a push may not recreate a repository deleted since

    def actions(self, kind: str, name: str) -> frozenset[str]:
        return self.grants.get((kind, name), frozenset())


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int
    issued_at: str  # RFC 3339


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    username: str
    user_id: int
    token_id: int | None
    version: int = 0  # the account's credentials version when the refresh token was issued


class TokenAuthority:
    """Issues and verifies tokens with one signing key, for one issuer and audience."""

    def __init__(
        self,
        key: SigningKey,
        *,
        issuer: str,
        service: str,
        ttl: int,
        refresh_ttl: int,
        leeway: int,
        cache_size: int = CACHE_SIZE,
        clock: Clock | None = None,
    ) -> None:
        self.key = key
        self.clock = clock or SystemClock()
        self.issuer = issuer
        self.service = service
        self.ttl = ttl
        self.refresh_ttl = refresh_ttl
        self.leeway = leeway
        self._cache: OrderedDict[str, AccessToken] = OrderedDict()
        self._cache_size = cache_size

    # -- issuing ------------------------------------------------------------------------

    def issue_access(self, account: Principal | None, access: list[Scope]) -> IssuedToken:
        now = int(self.clock.time())
        claims: dict[str, Any] = {
            **self._base_claims(account.username if account else "", now, self.ttl),
            "access": [scope.claim() for scope in access],
        }
        if account is not None:
            claims["dockyard"] = principal_claim(account)
        return IssuedToken(self._sign(claims), self.ttl, _rfc3339(now))

    def issue_refresh(self, account: Principal) -> str:
        claims = {
            **self._base_claims(account.username, int(self.clock.time()), self.refresh_ttl),
            "use": REFRESH_USE,
            "uid": account.user_id,
            "tid": account.token_id,
            "cv": account.credentials_version,
        }
        return self._sign(claims)

    def _base_claims(self, subject: str, now: int, ttl: int) -> dict[str, Any]:
        return {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + ttl,
            "nbf": now,
            "iat": now,
            "jti": secrets.token_urlsafe(16),
        }

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key.private_key, algorithm=ALGORITHM, headers={"kid": self.key.kid})

    # -- verifying ----------------------------------------------------------------------

    def verify_access(self, token: str) -> AccessToken:
        cached = self._cache.get(token)
        now = self.clock.time()
        if cached is not None:
            if cached.expires_at + self.leeway > now:
                self._cache.move_to_end(token)
                return cached
            del self._cache[token]
            raise InvalidToken("token expired")
        claims = self._decode(token)
        if "use" in claims or not isinstance(claims.get("access"), list):
            raise InvalidToken("not an access token")
        verified = AccessToken(
            claims["sub"],
            principal_from_claims(claims["sub"], claims.get("dockyard")),
            float(claims["exp"]),
            _grants(claims["access"]),
            float(claims["iat"]) if isinstance(claims.get("iat"), int | float) else None,
        )
        self._remember(token, verified)
        return verified

    def verify_refresh(self, token: str) -> RefreshClaims:
        claims = self._decode(token)
        if claims.get("use") != REFRESH_USE or not isinstance(claims.get("uid"), int) or not claims["sub"]:
            raise InvalidToken("not a refresh token")
        token_id = claims.get("tid")
        return RefreshClaims(
            claims["sub"],
            claims["uid"],
            token_id if isinstance(token_id, int) else None,
            credentials_version(claims),
        )

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            if jwt.get_unverified_header(token).get("kid") != self.key.kid:
                raise InvalidToken("unknown signing key")
            claims: dict[str, Any] = jwt.decode(
                token,
                self.key.public_key,
                algorithms=[ALGORITHM],
                audience=self.service,
                issuer=self.issuer,
                # exp, nbf and iat are checked by _check_times, on this authority's clock.
                options={
                    "require": ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        if not isinstance(claims["sub"], str):
            raise InvalidToken("bad subject")
        self._check_times(claims)
        return claims

    def _check_times(self, claims: dict[str, Any]) -> None:
        """PyJWT's exp/nbf/iat checks, with its messages, against this authority's clock (PyJWT reads
        the system's, which a test cannot move)."""
        try:
            expires, not_before, issued = (int(claims[name]) for name in ("exp", "nbf", "iat"))
        except (ValueError, TypeError, OverflowError):
            raise InvalidToken("exp, nbf and iat must be integers") from None
        now = self.clock.time()
        if expires <= now - self.leeway:
            raise InvalidToken("Signature has expired")
        if not_before > now + self.leeway:
            raise InvalidToken("The token is not yet valid (nbf)")
        if issued > now + self.leeway:
            raise InvalidToken("The token is not yet valid (iat)")

    def _remember(self, token: str, verified: AccessToken) -> None:
        self._cache[token] = verified
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _grants(entries: list[Any]) -> dict[tuple[str, str], frozenset[str]]:
    grants: dict[tuple[str, str], frozenset[str]] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kind, name, actions = entry.get("type"), entry.get("name"), entry.get("actions")
        if not isinstance(kind, str) or not isinstance(name, str) or not isinstance(actions, list):
            continue
        if kind == "repository":
            name = canonical(name) or ""
        key = (kind, name)
        grants[key] = grants.get(key, frozenset()) | frozenset(a for a in actions if isinstance(a, str))
    return grants


def _rfc3339(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
