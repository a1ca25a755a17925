"""Hub API tokens: the JWT that ``POST /v2/users/login`` and ``POST /v2/auth/token`` hand out.

    header  {"typ": "JWT", "alg": "ES256", "kid": "<libtrust key id>"}
    claims  {"iss", "sub": <username>, "aud": "<token_service>:hub", "exp", "nbf", "iat", "jti",
             "use": "hub", "uid": <user id>, "tid": <personal access token id or null>,
             "cv": <the account's credentials version at login>}

They are signed with the registry's token key (auth/keys.py): one secret in the data folder to
guard and rotate, instead of a second one. A distinct audience and ``use`` keep the two kinds
apart: the registry accepts only ``aud == token_service`` with an ``access`` claim, so a hub token
opens no registry door, and a registry token (audience ``token_service``) is refused here.

A hub token names an account, not its rights: every request turns it back into a fresh principal
(``AccountService.principal_for``), so a revoked personal access token, a deleted or disabled
user, a password change (for tokens from a password login: ``cv`` no longer matches) or a
withdrawn admin flag take effect at once, whatever the token's expiry.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from dockyard.accounts.records import Principal
from dockyard.auth.keys import ALGORITHM, SigningKey
from dockyard.auth.tokens import credentials_version

HUB_USE = "hub"
MAX_TOKEN_CHARS = 8192


class InvalidHubToken(Exception):
    """Malformed, forged, expired, or not a hub token."""


@dataclass(frozen=True, slots=True)
class HubIdentity:
    """Who a verified hub token names; ``token_id`` when the login used a personal access token."""

    username: str
    user_id: int
    token_id: int | None
    version: int = 0  # the credentials version the login saw; 0 for tokens from before versions


class HubTokens:
    def __init__(self, key: SigningKey, *, issuer: str, service: str, ttl: int, leeway: int) -> None:
        self.key = key
        self.issuer = issuer
        self.audience = f"{service}:{HUB_USE}"
        self.ttl = ttl
        self.leeway = leeway

    def issue(self, principal: Principal) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": principal.username,
            "aud": self.audience,
            "exp": now + self.ttl,
            "nbf": now,
            "iat": now,
            "jti": secrets.token_urlsafe(16),
            "use": HUB_USE,
            "uid": principal.user_id,
            "tid": principal.token_id,
            "cv": principal.credentials_version,
        }
        return jwt.encode(claims, self.key.private_key, algorithm=ALGORITHM, headers={"kid": self.key.kid})

    def verify(self, token: str) -> HubIdentity:
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidHubToken("token too long")
        try:
            if jwt.get_unverified_header(token).get("kid") != self.key.kid:
                raise InvalidHubToken("unknown signing key")
            claims = jwt.decode(
                token,
                self.key.public_key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["iss", "sub", "aud", "exp", "nbf", "iat"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidHubToken(str(exc)) from None
        subject, uid, tid = claims.get("sub"), claims.get("uid"), claims.get("tid")
        if claims.get("use") != HUB_USE or not isinstance(subject, str) or not subject:
            raise InvalidHubToken("not a hub token")
        if not isinstance(uid, int) or not (tid is None or isinstance(tid, int)):
            raise InvalidHubToken("malformed account claims")
        return HubIdentity(subject, uid, tid, credentials_version(claims))
