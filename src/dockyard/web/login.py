"""Password login for the pages: the one throttled, audited login every door shares. Personal
access tokens are for clients, not the web: a browser login with one is refused before any check,
so it never counts as a login."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dockyard.accounts import credentials
from dockyard.accounts.records import Principal
from dockyard.auth.service import AuthService
from dockyard.registry.errors import ErrorCode, RegistryError

BAD_CREDENTIALS = "Incorrect username or password."
THROTTLED = "Too many failed attempts. Wait a few minutes, then try again."
NO_TOKENS = "Use your password here; personal access tokens are for docker login and the API."

Login = Callable[[str, str, str | None], Awaitable[Principal]]


class LoginFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def password_login(auth: AuthService) -> Login:
    async def login(username: str, password: str, ip: str | None) -> Principal:
        if credentials.looks_like_token(password):
            raise LoginFailed(NO_TOKENS)
        try:
            return await auth.login(username, password, ip, door="web")
        except RegistryError as error:
            throttled = error.code == ErrorCode.TOOMANYREQUESTS
            raise LoginFailed(THROTTLED if throttled else BAD_CREDENTIALS) from None

    return login
