"""Builds the token server and the registry guard from the settings, once per app."""

from __future__ import annotations

from starlette.middleware import Middleware

from dockyard.auth import keys
from dockyard.auth.guard import TokenGuard
from dockyard.auth.ratelimit import PullRateLimiter
from dockyard.auth.service import Accounts, AuthService
from dockyard.auth.throttle import LoginThrottle
from dockyard.auth.tokens import TokenAuthority
from dockyard.config import Settings


def build_auth(settings: Settings, accounts: Accounts) -> AuthService:
    authority = TokenAuthority(
        keys.load_or_create(settings.data_dir),
        issuer=settings.token_issuer,
        service=settings.token_service,
        ttl=settings.token_ttl_seconds,
        refresh_ttl=settings.refresh_token_ttl_seconds,
        leeway=settings.token_leeway_seconds,
    )
    throttle = LoginThrottle(
        settings.login_max_failures,
        settings.login_failure_window_seconds,
        settings.login_lockout_seconds,
        ip_max_failures=settings.login_ip_max_failures,
    )
    limiter = PullRateLimiter(
        settings.pull_limit_anonymous, settings.pull_limit_authenticated, settings.pull_limit_window_seconds
    )
    return AuthService(accounts, authority, throttle, limiter)


def guard_middleware(settings: Settings, auth: AuthService) -> Middleware:
    return Middleware(TokenGuard, auth=auth, service=settings.token_service, public_url=settings.public_url)
