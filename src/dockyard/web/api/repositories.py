"""Repositories: list a namespace's, create, read, update, delete, and star.

    GET    /v2/repositories/{namespace}/                      paginated (cursor), what the caller may see
    POST   /v2/repositories/                                  {namespace, name, ...}
    POST   /v2/namespaces/{namespace}/repositories            {name, ...}
    GET    /v2/repositories/{namespace}/{repository}/
    PATCH  /v2/repositories/{namespace}/{repository}/         description, full_description, is_private
    DELETE /v2/repositories/{namespace}/{repository}/         202
    POST   /v2/repositories/{namespace}/{repository}/stars    star; DELETE unstars

A private repository the caller may not pull is 404 everywhere, exactly like a missing one.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from dockyard.accounts.records import Principal
from dockyard.hub.records import RepositoryDetail, RepositoryOrdering
from dockyard.web.api import present, schemas
from dockyard.web.api.deps import Context, Ctx, Namespace, PageNumber, PageSize, RepositoryName, User, Viewer
from dockyard.web.api.errors import responses
from dockyard.web.api.pagination import Cursor, paginate
from dockyard.web.api.routing import alias

router = APIRouter(tags=["repositories"])

ORDERINGS: dict[str, RepositoryOrdering] = {
    "last_updated": "-last_pushed",
    "name": "name",
    "pull_count": "-pulls",
    "star_count": "-stars",
}
REPOSITORY = "/v2/repositories/{namespace}/{repository}/"


class RepositoryPage(schemas.Paginated[schemas.RepositorySummary]):
    pass


@alias(
    router.get,
    "/v2/repositories/{namespace}/",
    response_model=RepositoryPage,
    responses=responses(400, 401, 404),
)
async def list_repositories(
    namespace: Namespace,
    request: Request,
    ctx: Ctx,
    caller: Viewer,
    page: PageNumber = 1,
    page_size: PageSize = 25,
    ordering: Annotated[
        Literal["last_updated", "name", "pull_count", "star_count"], Query()
    ] = "last_updated",
    cursor: Cursor = None,
) -> RepositoryPage:
    """The namespace's repositories the caller may pull; ``last_updated`` is newest push first."""
    return await namespace_page(
        request, ctx, caller, namespace, page, page_size, ORDERINGS[ordering], cursor=cursor
    )


async def namespace_page(
    request: Request,
    ctx: Context,
    caller: Principal | None,
    namespace: str,
    page: int,
    page_size: int,
    ordering: RepositoryOrdering,
    contains: str = "",
    *,
    cursor: str | None,
) -> RepositoryPage:
    """A page of a namespace's repositories, for this path and /v2/namespaces/... (namespaces.py)."""
    await ctx.hub.namespace(namespace)  # 404 for a namespace that does not exist
    found = await ctx.hub.namespace_repositories(
        caller, namespace, page=page, page_size=page_size, ordering=ordering, contains=contains, cursor=cursor
    )
    facts = await ctx.store.repository_facts(r.name for r in found.items)
    body = paginate(
        request,
        ctx.settings.public_url,
        found,
        lambda r: present.repository_summary(r, facts.get(r.name), caller),
    )
    return RepositoryPage(**body)


@alias(
    router.post,
    "/v2/repositories/",
    status_code=201,
    response_model=schemas.Repository,
    responses=responses(400, 401, 403, 404, 409, 429),
)
async def create_repository(body: schemas.RepositoryCreate, ctx: Ctx, caller: User) -> schemas.Repository:
    return await _create(ctx, caller, body.namespace, body)


@alias(
    router.post,
    "/v2/namespaces/{namespace}/repositories",
    status_code=201,
    response_model=schemas.Repository,
    responses=responses(400, 401, 403, 404, 409, 429),
)
async def create_namespace_repository(
    namespace: Namespace, body: schemas.NamespaceRepositoryCreate, ctx: Ctx, caller: User
) -> schemas.Repository:
    return await _create(ctx, caller, namespace, body)


async def _create(
    ctx: Context,
    caller: Principal,
    namespace: str,
    body: schemas.RepositoryCreate | schemas.NamespaceRepositoryCreate,
) -> schemas.Repository:
    detail = await ctx.hub.create_repository(
        caller,
        namespace,
        body.name,
        description=body.description,
        full_description=body.full_description,
        private=body.is_private,
    )
    return await _present(ctx, detail, caller)


@alias(router.get, REPOSITORY, response_model=schemas.Repository, responses=responses(400, 401, 404))
async def get_repository(
    namespace: Namespace, repository: RepositoryName, ctx: Ctx, caller: Viewer
) -> schemas.Repository:
    detail = await ctx.hub.repository(caller, f"{namespace}/{repository}")
    return await _present(ctx, detail, caller)


@alias(router.patch, REPOSITORY, response_model=schemas.Repository, responses=responses(400, 401, 403, 404))
async def update_repository(
    namespace: Namespace, repository: RepositoryName, body: schemas.RepositoryUpdate, ctx: Ctx, caller: User
) -> schemas.Repository:
    """Descriptions and visibility; needs admin rights on the repository."""
    detail = await ctx.hub.update_repository(
        caller,
        f"{namespace}/{repository}",
        description=body.description,
        full_description=body.full_description,
        private=body.is_private,
    )
    return await _present(ctx, detail, caller)


@alias(
    router.delete,
    REPOSITORY,
    status_code=202,
    response_class=Response,
    responses={202: {"description": "Deleted"}, **responses(400, 401, 403, 404)},
)
async def delete_repository(
    namespace: Namespace, repository: RepositoryName, ctx: Ctx, caller: User
) -> Response:
    """The repository, its tags, stars, statistics and webhooks; needs admin rights."""
    await ctx.hub.delete_repository(caller, f"{namespace}/{repository}")
    return Response(status_code=202)


@alias(
    router.post,
    "/v2/repositories/{namespace}/{repository}/stars",
    response_model=schemas.StarStatus,
    responses=responses(400, 401, 404),
)
async def star(
    namespace: Namespace, repository: RepositoryName, ctx: Ctx, caller: User
) -> schemas.StarStatus:
    count = await ctx.hub.star(caller, f"{namespace}/{repository}", True)
    return schemas.StarStatus(starred=True, star_count=count)


@alias(
    router.delete,
    "/v2/repositories/{namespace}/{repository}/stars",
    response_model=schemas.StarStatus,
    responses=responses(400, 401, 404),
)
async def unstar(
    namespace: Namespace, repository: RepositoryName, ctx: Ctx, caller: User
) -> schemas.StarStatus:
    count = await ctx.hub.star(caller, f"{namespace}/{repository}", False)
    return schemas.StarStatus(starred=False, star_count=count)


async def _present(ctx: Context, detail: RepositoryDetail, caller: Principal | None) -> schemas.Repository:
    facts = await ctx.store.repository_facts([detail.name])
    shared = await ctx.accounts.collaborator_counts([detail.name])
    return present.repository(detail, facts.get(detail.name), caller, shared.get(detail.name, 0))
