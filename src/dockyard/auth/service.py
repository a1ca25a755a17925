"""The token server's logic: who is asking (password, PAT or refresh token), what they may do,
and the token that says so. HTTP stays in ``handlers``; the access policy stays in accounts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from dockyard.accounts.errors import DeletedSince, QuotaExceeded, RateLimited
from dockyard.accounts.records import CatalogPage, Principal
from dockyard.auth.ratelimit import PullRateLimiter
from dockyard.auth.scopes import CATALOG, REGISTRY, REPOSITORY_ACTIONS, Scope, canonical
from dockyard.auth.standing import Standing
from dockyard.auth.throttle import LoginThrottle
from dockyard.auth.tokens import AccessToken, InvalidToken, TokenAuthority
from dockyard.registry.errors import ErrorCode, RegistryError

log = logging.getLogger(__name__)

MAX_USERNAME = 256
MAX_SECRET = 4096
BAD_CREDENTIALS = "incorrect username or password"


class Accounts(Protocol):
    """What the token server needs from the accounts domain (``AccountService``)."""

    def authenticate(self, username: str, secret: str) -> Awaitable[Principal | None]: ...

    def principal_for(
        self, username: str, *, token_id: int | None = None, version: int | None = None
    ) -> Awaitable[Principal | None]: ...

    def still_valid(self, principal: Principal) -> Awaitable[bool]: ...

    def repository_actions(
        self, principal: Principal | None, repository: str
    ) -> Awaitable[frozenset[str]]: ...

    def readable_repositories(
        self, principal: Principal | None, names: Iterable[str]
    ) -> Awaitable[list[str]]: ...

    def catalog(
        self, principal: Principal | None, limit: int | None, last: str | None
    ) -> Awaitable[CatalogPage]: ...

    def ensure_repository(
        self, name: str, created_by: Principal | None, *, issued_at: datetime | None = None
    ) -> Awaitable[None]: ...

    def record_event(
        self,
        kind: str,
        *,
        actor: str | None = None,
        ip: str | None = None,
        target: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> Awaitable[None]: ...

    def record_login_failure(
        self, attempted: str, *, ip: str | None, detail: Mapping[str, Any]
    ) -> Awaitable[None]: ...


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """The token endpoint's answer, before it becomes JSON."""

    token: str
    expires_in: int
    issued_at: str
    scopes: list[Scope]
    refresh_token: str | None = None


class AuthService:
    def __init__(
        self,
        accounts: Accounts,
        authority: TokenAuthority,
        throttle: LoginThrottle,
        limiter: PullRateLimiter,
    ) -> None:
        self.accounts = accounts
        self.authority = authority
        self.throttle = throttle
        self.limiter = limiter
        self.standing = Standing(accounts.still_valid)

    # -- who is asking --------------------------------------------------------------------

    async def login(self, username: str, secret: str, ip: str | None, *, door: str = "token") -> Principal:
        """Password or personal access token, for every door that takes one (``door``: /token,
        the hub API, the pages, the build API, ...): throttled per account and per IP, and every
        outcome audited, so no door is a way around the throttle or the audit log."""
        retry_after = self.throttle.retry_after(username, ip)
        if retry_after is not None:
            await self._audit(
                "login.throttled", username[:MAX_USERNAME], ip, {"retry_after": retry_after, "door": door}
            )
            raise RegistryError(
                ErrorCode.TOOMANYREQUESTS,
                message="too many failed login attempts, try again later",
                headers={"Retry-After": str(retry_after)},
            )
        principal = None
        if 0 < len(username) <= MAX_USERNAME and 0 < len(secret) <= MAX_SECRET:
            principal = await self.accounts.authenticate(username, secret)
        if principal is None:
            self.throttle.failed(username, ip)
            await self._login_failed(username[:MAX_USERNAME], ip, {"door": door})
            raise RegistryError(ErrorCode.UNAUTHORIZED, message=BAD_CREDENTIALS)
        self.throttle.succeeded(username)
        detail = {"via": "token" if principal.token_id is not None else "password", "door": door}
        await self._audit("login.success", principal.username, ip, detail)
        return principal

    async def refreshed(self, refresh_token: str, ip: str | None) -> Principal:
        """The account behind a refresh token, if it (and the PAT it came from) still stands."""
        try:
            claims = self.authority.verify_refresh(refresh_token)
        except InvalidToken:
            claims = None
        principal = None
        if claims is not None:
            principal = await self.accounts.principal_for(
                claims.username, token_id=claims.token_id, version=claims.version
            )
        if principal is None or claims is None or principal.user_id != claims.user_id:
            await self._audit(
                "login.failure", claims.username if claims else None, ip, {"via": "refresh_token"}
            )
            raise RegistryError(ErrorCode.UNAUTHORIZED, message="invalid or revoked refresh token")
        return principal

    # -- what they may do -----------------------------------------------------------------

    async def grant(self, principal: Principal | None, requested: list[Scope]) -> list[Scope]:
        """Each requested scope with only the actions the account really has."""
        granted = []
        for scope in requested:
            if scope.type == REGISTRY and scope.name == CATALOG:
                # The catalog is filtered per caller, so anyone may list it.
                granted.append(Scope(scope.type, scope.name, scope.actions & {"*"}))
                continue
            name = canonical(scope.name)
            if name is None:
                continue
            wanted = REPOSITORY_ACTIONS if "*" in scope.actions else scope.actions & REPOSITORY_ACTIONS
            allowed = await self.accounts.repository_actions(principal, name) if wanted else frozenset()
            granted.append(Scope(scope.type, scope.name, wanted & allowed))
        return granted

    async def issue(
        self, principal: Principal | None, requested: list[Scope], *, offline: bool
    ) -> TokenGrant:
        scopes = await self.grant(principal, requested)
        issued = self.authority.issue_access(principal, scopes)
        refresh = self.authority.issue_refresh(principal) if offline and principal is not None else None
        return TokenGrant(issued.token, issued.expires_in, issued.issued_at, scopes, refresh)

    async def verify(self, token: str) -> AccessToken:
        """A valid access token whose account (if any) still stands: not disabled, deleted or
        demoted, and no password change or token revocation since the login (auth/standing.py)."""
        verified = self.authority.verify_access(token)
        if verified.account is not None and not await self.standing.holds(verified.account):
            raise InvalidToken("the account's credentials changed since this token was issued")
        return verified

    # -- registry side effects ------------------------------------------------------------

    async def ensure_repository(
        self, name: str, principal: Principal | None, issued_at: float | None = None
    ) -> None:
        """Create the repository a push goes to; past a creation limit, the registry's error.
        ``issued_at`` (the token's): a repository deleted since is not recreated, DENIED."""
        when = datetime.fromtimestamp(issued_at, UTC) if issued_at is not None else None
        try:
            await self.accounts.ensure_repository(name, principal, issued_at=when)
        except RateLimited as limited:
            raise RegistryError(
                ErrorCode.TOOMANYREQUESTS,
                message=limited.message,
                headers={"Retry-After": str(limited.retry_after)},
            ) from None
        except (QuotaExceeded, DeletedSince) as refused:
            raise RegistryError(ErrorCode.DENIED, message=refused.message) from None

    async def readable(self, principal: Principal | None, names: list[str]) -> list[str]:
        return await self.accounts.readable_repositories(principal, names)

    async def catalog(self, principal: Principal | None, limit: int | None, last: str | None) -> CatalogPage:
        return await self.accounts.catalog(principal, limit, last)

    async def _login_failed(self, attempted: str, ip: str | None, detail: dict[str, Any]) -> None:
        try:
            await self.accounts.record_login_failure(attempted, ip=ip, detail=detail)
        except Exception:
            log.exception("could not record a failed login")

    async def _audit(self, kind: str, actor: str | None, ip: str | None, detail: dict[str, Any]) -> None:
        await self.audit(kind, actor=actor, ip=ip, target=None, detail=detail)

    async def audit(
        self, kind: str, *, actor: str | None, ip: str | None, target: str | None, detail: dict[str, Any]
    ) -> None:
        """Record a security event; a failing audit write is logged, never turned into a 500."""
        try:
            await self.accounts.record_event(kind, actor=actor, ip=ip, target=target, detail=detail)
        except Exception:
            log.exception("could not record audit event %s", kind)
