"""Who is calling the build API, and whether they may: HTTP Basic (a password or a personal
access token) through the one throttled, audited login every door shares (``AuthService.login``,
door ``build-api``), then builds/access.py's table. With an open registry anyone may do anything,
as on the registry itself.

The hub API's other operations take a bearer token from ``POST /v2/users/login``; the build
endpoints keep the Basic credentials their scripts and CI jobs have always sent.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPBasic

from dockyard.accounts.records import Principal
from dockyard.builds import params
from dockyard.builds.access import Need, decide
from dockyard.builds.context import BuildsContext
from dockyard.builds.errors import TooManyRequests, Unauthorized
from dockyard.peers import client_ip
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.web.api.deps import context


class _DocumentedBasic(HTTPBasic):
    """Puts HTTP Basic in the OpenAPI document; the header itself is read by ``caller``, which
    answers a malformed one with a 400 that says what is wrong (HTTPBasic would say 401)."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


BASIC = [Depends(_DocumentedBasic(description="username and password or personal access token"))]


async def caller(request: Request) -> Principal | None:
    """The account behind HTTP Basic credentials; None when there are none."""
    header = request.headers.get("authorization")
    if not header:
        return None
    username, secret = params.basic_credentials(header)
    try:
        return await context(request).auth.login(username, secret, client_ip(request), door="build-api")
    except RegistryError as exc:
        if exc.code is ErrorCode.TOOMANYREQUESTS:
            raise TooManyRequests(exc.message, dict(exc.headers)) from None
        raise Unauthorized("incorrect username or password") from None


async def may(request: Request, repository: str, need: Need) -> Principal | None:
    """The caller, once they may do what ``need`` names on the (canonical) repository."""
    builds: BuildsContext = context(request).builds
    if builds.open_registry:
        return None
    principal = await caller(request)
    decide(principal, repository, await builds.accounts.repository_actions(principal, repository), need)
    return principal
