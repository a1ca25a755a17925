"""Immutable tags of a repository (Docker Hub's ``immutable_tags_settings``).

    GET /v2/repositories/{namespace}/{repository}/immutabletags   {"enabled", "rules"}
    PUT /v2/repositories/{namespace}/{repository}/immutabletags   the same; needs admin rights

``rules`` are RE2 expressions matched against the whole tag; empty means every tag. A push that
would move a covered tag is refused with DENIED "tag X is immutable"; a new tag is always allowed.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from dockyard.web.api.deps import Ctx, Namespace, RepositoryName, User, Viewer
from dockyard.web.api.errors import responses
from dockyard.web.api.routing import alias

router = APIRouter(tags=["repositories"])
PATH = "/v2/repositories/{namespace}/{repository}/immutabletags"


class ImmutableTags(BaseModel):
    enabled: bool
    rules: list[str] = Field(default_factory=list, max_length=20)


@alias(router.get, PATH, response_model=ImmutableTags, responses=responses(400, 401, 404))
async def get_immutable_tags(
    namespace: Namespace, repository: RepositoryName, ctx: Ctx, caller: Viewer
) -> ImmutableTags:
    rules = await ctx.hub.immutable_tags(caller, f"{namespace}/{repository}")
    return ImmutableTags(enabled=rules is not None, rules=rules or [])


@alias(router.put, PATH, response_model=ImmutableTags, responses=responses(400, 401, 403, 404))
async def set_immutable_tags(
    namespace: Namespace, repository: RepositoryName, body: ImmutableTags, ctx: Ctx, caller: User
) -> ImmutableTags:
    name = f"{namespace}/{repository}"
    await ctx.hub.set_immutable_tags(caller, name, body.rules if body.enabled else None)
    rules = await ctx.hub.immutable_tags(caller, name)
    return ImmutableTags(enabled=rules is not None, rules=rules or [])
