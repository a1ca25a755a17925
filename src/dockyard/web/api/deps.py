"""What every handler may ask for: the services (``Context``), the caller, and page parameters.

The caller comes from ``Authorization: Bearer <hub token>`` (or ``JWT <hub token>``, as older
Docker Hub clients send it). No header is an anonymous caller; a header that does not verify,
or names an account or access token that is gone, is 401 -- never silently anonymous.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPBearer

from dockyard import names
from dockyard.accesslog import note_user
from dockyard.accounts.records import Principal
from dockyard.accounts.roles import OrgAdmin, RepositorySharing
from dockyard.accounts.service import AccountService
from dockyard.auth.service import AuthService
from dockyard.builds.context import BuildsContext
from dockyard.config import Settings
from dockyard.hub.service import HubService
from dockyard.proxy.service import ProxyService
from dockyard.web.api.errors import Forbidden, Unauthorized
from dockyard.web.api.schemas import COMPONENT, DOCKER_ID
from dockyard.web.api.store import ApiStore
from dockyard.web.api.tokens import HubTokens, InvalidHubToken

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="dockyard-hub"'}
SCHEMES = ("bearer", "jwt")
MAX_PAGE = 100_000
MAX_PAGE_SIZE = 100

# Puts the bearer scheme in the OpenAPI document for the operations that need a login; the header
# itself is read by ``viewer``. Operations open to anonymous callers declare no security, though a
# token there shows the caller what the account may see.
bearer = HTTPBearer(auto_error=False, description="the token from POST /v2/users/login")


@dataclass(frozen=True)
class Context:
    settings: Settings
    accounts: AccountService
    hub: HubService
    auth: AuthService
    tokens: HubTokens
    store: ApiStore
    builds: BuildsContext
    proxy: ProxyService | None = None  # proxy namespaces (dockyard/proxy/), for administrators


def context(request: Request) -> Context:
    ctx: Context = request.app.state.context
    return ctx


Ctx = Annotated[Context, Depends(context)]


def org_admin(ctx: Ctx) -> OrgAdmin:
    return OrgAdmin(ctx.accounts)  # no state of its own: the role checks over AccountService


def repository_sharing(ctx: Ctx) -> RepositorySharing:
    return RepositorySharing(ctx.accounts)


Orgs = Annotated[OrgAdmin, Depends(org_admin)]
Sharing = Annotated[RepositorySharing, Depends(repository_sharing)]


async def viewer(request: Request, ctx: Ctx) -> Principal | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _sep, raw = header.partition(" ")
    if scheme.lower() not in SCHEMES or not raw.strip():
        raise Unauthorized("use Authorization: Bearer <token from POST /v2/users/login>", CHALLENGE)
    try:
        identity = ctx.tokens.verify(raw.strip())
    except InvalidHubToken:
        raise Unauthorized("invalid or expired token", CHALLENGE) from None
    principal = await ctx.accounts.principal_for(
        identity.username, token_id=identity.token_id, version=identity.version
    )
    if principal is None or principal.user_id != identity.user_id:
        raise Unauthorized("the account or access token behind this token is gone", CHALLENGE)
    note_user(request.scope, principal.username)
    return principal


async def user(
    caller: Annotated[Principal | None, Depends(viewer)], _: Annotated[object, Depends(bearer)] = None
) -> Principal:
    if caller is None:
        raise Unauthorized("authentication required", CHALLENGE)
    return caller


async def password_user(caller: Annotated[Principal, Depends(user)]) -> Principal:
    """A caller logged in with a password: access tokens cannot manage access tokens."""
    if caller.token_id is not None:
        raise Forbidden("log in with your password to manage access tokens, not with an access token")
    return caller


Viewer = Annotated[Principal | None, Depends(viewer)]
User = Annotated[Principal, Depends(user)]
PasswordUser = Annotated[Principal, Depends(password_user)]

# Names as the accounts and registry grammars allow them (accounts/names.py, registry/reference.py),
# so the OpenAPI document tells clients (and schemathesis) what a valid one looks like.
TAG = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"

# Any namespace that can exist (dockyard.names), proxy namespaces such as ``hub`` included.
Namespace = Annotated[
    str,
    Path(
        pattern=rf"^{names.NAMESPACE}$",
        max_length=names.MAX_NAMESPACE_LENGTH,
        description="a user, an organisation, library or a proxy namespace",
    ),
]
RepositoryName = Annotated[
    str, Path(pattern=COMPONENT, max_length=200, description="the name after the namespace")
]
Account = Annotated[str, Path(pattern=DOCKER_ID, max_length=30)]
OrgName = Annotated[str, Path(pattern=DOCKER_ID, max_length=30, description="an organisation")]
Username = Annotated[str, Path(pattern=DOCKER_ID, max_length=30, description="a user")]
GroupName = Annotated[
    str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,29}$", max_length=30, description="a group (team)")
]

PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="results per page")]
