"""Proxy namespaces in the JSON API (Dockyard's own, not Docker Hub's), for administrators:

    GET    /v2/proxies/              every proxy namespace, with its counters and usage
    POST   /v2/proxies/              add one (credentials go in, never come out)
    PATCH  /v2/proxies/{namespace}/  set or remove its size limit (a lower one evicts at once)
    DELETE /v2/proxies/{namespace}/  stop proxying it

The same operations as ``dockyard proxy``; the service (``proxy/service.py``) checks the input.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from dockyard.accounts.records import Principal
from dockyard.proxy.records import DEFAULT_TTL_SECONDS, Credentials, ProxyConfig, ProxyError, ProxyNotFound
from dockyard.proxy.service import ProxyService
from dockyard.web.api.deps import Context, Ctx, User
from dockyard.web.api.errors import BadRequest, Forbidden, NotFound, responses
from dockyard.web.api.routing import alias

router = APIRouter(tags=["proxies"])


class ProxyIn(BaseModel):
    namespace: str = Field(max_length=30)
    upstream_url: str = Field(max_length=2048)
    username: str | None = Field(default=None, max_length=255)
    password: str | None = Field(default=None, max_length=4096)
    ttl_seconds: int = DEFAULT_TTL_SECONDS
    private: bool = False
    mirror: bool = False
    size_limit_bytes: int | None = Field(default=None, gt=0)


class ProxyLimit(BaseModel):
    size_limit_bytes: int | None = Field(gt=0, description="null: no limit")


class ProxyOut(BaseModel):
    namespace: str
    upstream_url: str
    authenticated: bool
    ttl_seconds: int
    private: bool
    mirror: bool
    hits: int
    misses: int
    last_checked_at: datetime | None
    created_at: datetime
    size_limit_bytes: int | None
    usage_bytes: int | None = Field(description="bytes of the blobs it has cached")


class ProxyList(BaseModel):
    count: int
    results: list[ProxyOut]


def _service(ctx: Context, caller: Principal) -> ProxyService:
    if not caller.is_admin or (caller.token_scopes is not None and "repo:admin" not in caller.token_scopes):
        raise Forbidden("only administrators manage proxy namespaces")
    if ctx.proxy is None:
        raise NotFound("proxy namespaces are not available here")
    return ctx.proxy


def _out(config: ProxyConfig) -> ProxyOut:
    return ProxyOut(
        namespace=config.namespace,
        upstream_url=config.upstream_url,
        authenticated=config.has_credentials,
        ttl_seconds=config.ttl_seconds,
        private=config.is_private,
        mirror=config.is_mirror,
        hits=config.hits,
        misses=config.misses,
        last_checked_at=config.last_checked_at,
        created_at=config.created_at,
        size_limit_bytes=config.size_limit_bytes,
        usage_bytes=config.usage_bytes,
    )


@alias(router.get, "/v2/proxies/", response_model=ProxyList, responses=responses(401, 403))
async def list_proxies(ctx: Ctx, caller: User) -> ProxyList:
    found = await _service(ctx, caller).list(usage=True)
    return ProxyList(count=len(found), results=[_out(config) for config in found])


@alias(
    router.post, "/v2/proxies/", response_model=ProxyOut, status_code=201, responses=responses(400, 401, 403)
)
async def add_proxy(body: ProxyIn, ctx: Ctx, caller: User) -> ProxyOut:
    service = _service(ctx, caller)
    credentials = None
    if body.username is not None or body.password is not None:
        credentials = Credentials(body.username or "", body.password or "")
    try:
        config = await service.add(
            body.namespace,
            body.upstream_url,
            credentials=credentials,
            ttl_seconds=body.ttl_seconds,
            private=body.private,
            mirror=body.mirror,
            size_limit=body.size_limit_bytes,
        )
    except ProxyError as exc:
        raise BadRequest(exc.message) from None
    return _out(config)


@alias(
    router.patch,
    "/v2/proxies/{namespace}/",
    response_model=ProxyOut,
    responses=responses(400, 401, 403, 404),
)
async def limit_proxy(namespace: str, body: ProxyLimit, ctx: Ctx, caller: User) -> ProxyOut:
    service = _service(ctx, caller)
    try:
        config = await service.set_limit(namespace, body.size_limit_bytes)
    except ProxyNotFound as exc:
        raise NotFound(exc.message) from None
    except ProxyError as exc:
        raise BadRequest(exc.message) from None
    return _out(dataclasses.replace(config, usage_bytes=await service.cache.space.usage(namespace)))


@alias(router.delete, "/v2/proxies/{namespace}/", status_code=204, responses=responses(401, 403, 404))
async def remove_proxy(namespace: str, ctx: Ctx, caller: User) -> Response:
    try:
        await _service(ctx, caller).remove(namespace)
    except ProxyNotFound as exc:
        raise NotFound(exc.message) from None
    return Response(status_code=204)
