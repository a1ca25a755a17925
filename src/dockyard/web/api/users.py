"""Logging in (``/v2/users/login``, ``/v2/auth/token``) and who someone is (``/v2/user/``,
``/v2/users/{username}/``, ``/v2/orgs/{orgname}/``).

Logins go through the token server's ``AuthService.login``: the same throttle, the same audit
events, passwords and personal access tokens alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from dockyard.accounts.records import Principal
from dockyard.peers import client_ip
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.web.api import present, schemas
from dockyard.web.api.deps import Account as AccountName
from dockyard.web.api.deps import Context, Ctx, User
from dockyard.web.api.errors import BAD_CREDENTIALS, NotFound, TooManyRequests, Unauthorized, responses
from dockyard.web.api.pagination import base_url
from dockyard.web.api.routing import alias

router = APIRouter(tags=["authentication"])


class Account(BaseModel):
    """A user or an organisation, as Docker Hub's profile endpoints show it."""

    id: str
    username: str
    full_name: str
    location: str
    company: str
    profile_url: str
    gravatar_url: str
    date_joined: datetime | None
    type: Literal["User", "Organization"]


class CurrentUser(Account):
    email: str
    is_admin: bool


async def authenticate(ctx: Context, username: str, secret: str, ip: str | None) -> Principal:
    try:
        return await ctx.auth.login(username, secret, ip, door="api")
    except RegistryError as exc:
        if exc.code is ErrorCode.TOOMANYREQUESTS:
            raise TooManyRequests(exc.message, dict(exc.headers)) from None
        raise Unauthorized(BAD_CREDENTIALS) from None


@alias(
    router.post, "/v2/users/login", response_model=schemas.LoginResponse, responses=responses(400, 401, 429)
)
async def login(body: schemas.LoginRequest, request: Request, ctx: Ctx) -> schemas.LoginResponse:
    """A hub token for a username and a password or personal access token."""
    principal = await authenticate(ctx, body.username, body.password, client_ip(request))
    return schemas.LoginResponse(token=ctx.tokens.issue(principal))


@alias(
    router.post,
    "/v2/auth/token",
    response_model=schemas.AuthTokenResponse,
    responses=responses(400, 401, 429),
)
async def auth_token(body: schemas.AuthTokenRequest, request: Request, ctx: Ctx) -> schemas.AuthTokenResponse:
    """The same hub token, for ``{identifier, secret}`` (Docker Hub's newer login)."""
    principal = await authenticate(ctx, body.identifier, body.secret, client_ip(request))
    return schemas.AuthTokenResponse(access_token=ctx.tokens.issue(principal))


@alias(router.get, "/v2/user/", response_model=CurrentUser, responses=responses(401))
async def current_user(caller: User, ctx: Ctx, request: Request) -> CurrentUser:
    """The logged-in account."""
    found = await ctx.accounts.get_user(caller.username)
    if found is None:
        raise Unauthorized("the account behind this token is gone")
    return CurrentUser(
        **_account(request, ctx, found.username, found.id, found.created_at, "User").model_dump(),
        email=found.email,
        is_admin=found.is_admin,
    )


@alias(router.get, "/v2/users/{username}/", response_model=Account, responses=responses(400, 404))
async def user_profile(username: AccountName, ctx: Ctx, request: Request) -> Account:
    found = await ctx.accounts.get_user(username)
    if found is None:
        raise NotFound(f"no user named {username!r}")
    return _account(request, ctx, found.username, found.id, found.created_at, "User")


@alias(router.get, "/v2/orgs/{orgname}/", response_model=Account, responses=responses(400, 404))
async def org_profile(orgname: AccountName, ctx: Ctx, request: Request) -> Account:
    found = await ctx.accounts.get_org(orgname)
    if found is None:
        raise NotFound(f"no organisation named {orgname!r}")
    return _account(request, ctx, found.name, found.id, found.created_at, "Organization")


def _account(
    request: Request,
    ctx: Context,
    name: str,
    key: int,
    joined: datetime,
    kind: Literal["User", "Organization"],
) -> Account:
    return Account(
        id=present.user_uuid(key) if kind == "User" else present.org_uuid(key),
        username=name,
        full_name="",
        location="",
        company="",
        profile_url=f"{base_url(request, ctx.settings.public_url)}/u/{name}",
        gravatar_url="",
        date_joined=joined,
        type=kind,
    )
