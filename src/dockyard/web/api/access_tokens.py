"""Personal access tokens, as Docker Hub's ``/v2/access-tokens`` (hub-tool's ``/v2/api_tokens`` too).

    GET    /v2/access-tokens                page, page_size -> {count, next, previous, active_count, results}
    POST   /v2/access-tokens                {token_label, scopes, expires_at} -> 201, ``token`` this once
    GET    /v2/access-tokens/{uuid}
    PATCH  /v2/access-tokens/{uuid}         {token_label, is_active: false}
    DELETE /v2/access-tokens/{uuid}         204

Only a caller logged in with a password manages tokens (an access token cannot mint or revoke
its siblings). Revocation is final, as the registry's refresh tokens depend on it: PATCH
``is_active: false`` and DELETE both revoke, and ``is_active: true`` cannot bring a token back.
A revoked token stays listed, inactive, for the audit trail.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from dockyard.accounts.records import AccessToken as TokenRecord
from dockyard.web.api import present, schemas
from dockyard.web.api.deps import Context, Ctx, PageNumber, PageSize, PasswordUser
from dockyard.web.api.errors import BadRequest, NotFound, responses
from dockyard.web.api.pagination import paginate, slice_page

router = APIRouter(tags=["access tokens"])

TOKENS = "/v2/access-tokens"
TOKEN = "/v2/access-tokens/{uuid}"
HUB_TOOL_TOKENS = "/v2/api_tokens"  # the older spelling hub-tool uses


def _is_active(token: TokenRecord, now: datetime) -> bool:
    return not token.revoked and (token.expires_at is None or token.expires_at > now)


async def list_tokens(
    request: Request, ctx: Ctx, caller: PasswordUser, page: PageNumber = 1, page_size: PageSize = 10
) -> schemas.AccessTokenPage:
    found = sorted(await ctx.accounts.list_tokens(caller.username), key=lambda t: t.id, reverse=True)
    now = datetime.now(UTC)
    body = paginate(
        request,
        ctx.settings.public_url,
        slice_page(found, page, page_size),
        lambda t: present.access_token(t, active=_is_active(t, now)),
    )
    return schemas.AccessTokenPage(**body, active_count=sum(_is_active(t, now) for t in found))


async def create_token(
    body: schemas.AccessTokenCreate, ctx: Ctx, caller: PasswordUser
) -> schemas.AccessToken:
    token, plaintext = await ctx.accounts.create_token(
        caller.username, body.token_label, body.scopes, body.expires_at, actor=caller.username
    )
    return present.access_token(token, active=True, plaintext=plaintext)


async def get_token(uuid: str, ctx: Ctx, caller: PasswordUser) -> schemas.AccessToken:
    token = await _find(ctx, caller.username, uuid)
    return present.access_token(token, active=_is_active(token, datetime.now(UTC)))


async def update_token(
    uuid: str, body: schemas.AccessTokenUpdate, ctx: Ctx, caller: PasswordUser
) -> schemas.AccessToken:
    token = await _find(ctx, caller.username, uuid)
    if body.is_active and not _is_active(token, datetime.now(UTC)):
        raise BadRequest("a revoked or expired token cannot be reactivated; create a new one")
    if body.token_label is not None and body.token_label.strip() != token.label:
        label = body.token_label.strip()
        if not label:
            raise BadRequest("token labels are 1 to 100 characters")
        await ctx.store.rename_token(caller.username, token.id, label)
    if body.is_active is False and not token.revoked:
        await ctx.accounts.revoke_token(caller.username, token.id, actor=caller.username)
    return await get_token(uuid, ctx, caller)


async def delete_token(uuid: str, ctx: Ctx, caller: PasswordUser) -> Response:
    token = await _find(ctx, caller.username, uuid)
    await ctx.accounts.revoke_token(caller.username, token.id, actor=caller.username)
    return Response(status_code=204)


async def _find(ctx: Context, username: str, token_uuid: str) -> TokenRecord:
    for token in await ctx.accounts.list_tokens(username):
        if present.token_uuid(token) == token_uuid:
            return token
    raise NotFound("access token not found")


def _register(prefix: str, *, documented: bool) -> None:
    many, one = prefix, f"{prefix}/{{uuid}}"
    errors, missing = responses(400, 401, 403), responses(400, 401, 403, 404)
    router.get(many, response_model=schemas.AccessTokenPage, responses=missing, include_in_schema=documented)(
        list_tokens
    )
    router.post(
        many,
        status_code=201,
        response_model=schemas.AccessToken,
        responses=errors,
        include_in_schema=documented,
    )(create_token)
    router.get(one, response_model=schemas.AccessToken, responses=missing, include_in_schema=documented)(
        get_token
    )
    router.patch(one, response_model=schemas.AccessToken, responses=missing, include_in_schema=documented)(
        update_token
    )
    router.delete(
        one,
        status_code=204,
        response_class=Response,
        responses={204: {"description": "Revoked"}, **missing},
        include_in_schema=documented,
    )(delete_token)


_register(TOKENS, documented=True)
_register(HUB_TOOL_TOKENS, documented=False)
