"""A namespace's storage quota and usage.

    GET /v2/namespaces/{namespace}/quota   {"namespace", "limit_bytes", "used_bytes"}: for site
                                           administrators and whoever may push into the namespace
    PUT /v2/namespaces/{namespace}/quota   {"limit_bytes": N | null}; site administrators only

Usage counts each blob once per namespace, however many of its repositories share it. A push
that would cross the quota is refused with DENIED "quota exceeded: used X of Y".
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from dockyard.registry.quotas import Quota
from dockyard.web.api.deps import Ctx, Namespace, User
from dockyard.web.api.errors import responses
from dockyard.web.api.routing import alias

router = APIRouter(tags=["namespaces"])
PATH = "/v2/namespaces/{namespace}/quota"


class QuotaBody(BaseModel):
    limit_bytes: int | None = Field(ge=0)


class QuotaStatus(BaseModel):
    namespace: str
    limit_bytes: int | None
    used_bytes: int


def _status(quota: Quota) -> QuotaStatus:
    return QuotaStatus(namespace=quota.namespace, limit_bytes=quota.limit, used_bytes=quota.used)


@alias(router.get, PATH, response_model=QuotaStatus, responses=responses(400, 401, 403, 404))
async def get_quota(namespace: Namespace, ctx: Ctx, caller: User) -> QuotaStatus:
    return _status(await ctx.hub.namespace_quota(caller, namespace))


@alias(router.put, PATH, response_model=QuotaStatus, responses=responses(400, 401, 403, 404))
async def set_quota(namespace: Namespace, body: QuotaBody, ctx: Ctx, caller: User) -> QuotaStatus:
    return _status(await ctx.hub.set_namespace_quota(caller, namespace, body.limit_bytes))
