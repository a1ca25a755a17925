"""Password login for the pages: the token server's throttled, audited login when token auth is on,
else the same rules over a throttle of our own. Personal access tokens are for clients, not the
web: a browser login with one is refused before any check, so it never counts as a login."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dockyard.accounts import credentials
from dockyard.accounts.records import Principal
from dockyard.accounts.service import AccountService
from dockyard.auth.service import AuthService
from dockyard.auth.throttle import LoginThrottle
from dockyard.config import Settings
from dockyard.registry.errors import ErrorCode, RegistryError

BAD_CREDENTIALS = "Incorrect username or password."
THROTTLED = "Too many failed attempts. Wait a few minutes, then try again."
NO_TOKENS = "Use your password here; personal access tokens are for docker login and the API."

Login = Callable[[str, str, str | None], Awaitable[Principal]]


class LoginFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def password_login(settings: Settings, accounts: AccountService, auth: AuthService | None) -> Login:
    throttle = auth.throttle if auth is not None else _own_throttle(settings)

    async def login(username: str, password: str, ip: str | None) -> Principal:
        if credentials.looks_like_token(password):
            raise LoginFailed(NO_TOKENS)
        if auth is not None:
            try:
                return await auth.login(username, password, ip)
            except RegistryError as error:
                raise LoginFailed(
                    THROTTLED if error.code == ErrorCode.TOOMANYREQUESTS else BAD_CREDENTIALS
                ) from None
        if throttle.retry_after(username, ip) is not None:
            raise LoginFailed(THROTTLED)
        principal = await accounts.authenticate(username, password) if username and password else None
        if principal is None:
            throttle.failed(username, ip)
            await accounts.record_login_failure(username[:64], ip=ip, detail={"via": "web"})
            raise LoginFailed(BAD_CREDENTIALS)
        throttle.succeeded(username)
        await accounts.record_event("login.success", actor=principal.username, ip=ip, detail={"via": "web"})
        return principal

    return login


def _own_throttle(settings: Settings) -> LoginThrottle:
    return LoginThrottle(
        settings.login_max_failures, settings.login_failure_window_seconds, settings.login_lockout_seconds
    )
