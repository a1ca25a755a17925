"""Docker Hub's current repository and tag paths, beside the older /v2/repositories/... ones and
in the same shapes.

    GET  /v2/namespaces/{namespace}/repositories                          page, page_size, name, ordering
    GET  /v2/namespaces/{namespace}/repositories/{repository}             HEAD: does it exist (for you)
    GET  /v2/namespaces/{namespace}/repositories/{repository}/tags        page, page_size, ordering, name
    GET  /v2/namespaces/{namespace}/repositories/{repository}/tags/{tag}  HEAD too

``ordering`` here is Django's, as Docker Hub documents it: ``last_updated`` is oldest first and
``-last_updated`` newest first (the default), likewise ``name``/``-name`` and
``pull_count``/``-pull_count``. (The older path's ``last_updated`` is newest first, as Docker Hub
answers there.) POST to the listing creates a repository: repositories.py.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from dockyard.hub.records import RepositoryOrdering
from dockyard.web.api import present, schemas
from dockyard.web.api.deps import Ctx, Namespace, PageNumber, PageSize, RepositoryName, Viewer
from dockyard.web.api.errors import responses
from dockyard.web.api.pagination import paginate
from dockyard.web.api.repositories import RepositoryPage, present_repository
from dockyard.web.api.routing import alias
from dockyard.web.api.tags import NameFilter, Ordering, TagName, TagPage, one_tag, tag_page

router = APIRouter(tags=["namespaces"])

REPOSITORIES = "/v2/namespaces/{namespace}/repositories"
REPOSITORY = "/v2/namespaces/{namespace}/repositories/{repository}"
TAGS = REPOSITORY + "/tags"
TAG = TAGS + "/{tag}"
ORDERINGS: dict[str, RepositoryOrdering] = {
    "name": "name",
    "-name": "-name",
    "last_updated": "last_pushed",
    "-last_updated": "-last_pushed",
    "pull_count": "pulls",
    "-pull_count": "-pulls",
}
EXISTS = {200: {"description": "It exists and you may pull it"}, **responses(400, 401, 404)}


@alias(router.get, REPOSITORIES, response_model=RepositoryPage, responses=responses(400, 401, 404))
async def list_repositories(
    namespace: Namespace,
    request: Request,
    ctx: Ctx,
    caller: Viewer,
    page: PageNumber = 1,
    page_size: PageSize = 10,
    name: Annotated[str, Query(max_length=200, description="only names containing this")] = "",
    ordering: Annotated[
        Literal["name", "-name", "last_updated", "-last_updated", "pull_count", "-pull_count"], Query()
    ] = "-last_updated",
) -> RepositoryPage:
    """The namespace's repositories the caller may pull."""
    await ctx.hub.namespace(namespace)  # 404 for a namespace that does not exist
    found = await ctx.hub.namespace_repositories(
        caller, namespace, page=page, page_size=page_size, ordering=ORDERINGS[ordering], contains=name
    )
    facts = await ctx.store.repository_facts(r.name for r in found.items)
    body = paginate(
        request,
        ctx.settings.public_url,
        found,
        lambda r: present.repository_summary(r, facts.get(r.name), caller),
    )
    return RepositoryPage(**body)


@alias(router.get, REPOSITORY, response_model=schemas.Repository, responses=responses(400, 401, 404))
async def get_repository(
    namespace: Namespace, repository: RepositoryName, ctx: Ctx, caller: Viewer
) -> schemas.Repository:
    detail = await ctx.hub.repository(caller, f"{namespace}/{repository}")
    return await present_repository(ctx, detail, caller)


@alias(router.head, REPOSITORY, response_class=Response, responses=EXISTS)
async def repository_exists(
    namespace: Namespace, repository: RepositoryName, ctx: Ctx, caller: Viewer
) -> Response:
    await ctx.hub.repository(caller, f"{namespace}/{repository}")
    return Response(status_code=200)


@alias(router.get, TAGS, response_model=TagPage, responses=responses(400, 401, 404))
async def list_tags(
    namespace: Namespace,
    repository: RepositoryName,
    request: Request,
    ctx: Ctx,
    caller: Viewer,
    page: PageNumber = 1,
    page_size: PageSize = 10,
    ordering: Ordering = "last_updated",
    name: NameFilter = "",
) -> TagPage:
    """Newest push first by default, as on Docker Hub."""
    return await tag_page(request, ctx, caller, f"{namespace}/{repository}", page, page_size, ordering, name)


@alias(router.get, TAG, response_model=schemas.Tag, responses=responses(400, 401, 404))
async def get_tag(
    namespace: Namespace, repository: RepositoryName, tag: TagName, ctx: Ctx, caller: Viewer
) -> schemas.Tag:
    return await one_tag(ctx, caller, f"{namespace}/{repository}", tag)


@alias(router.head, TAG, response_class=Response, responses=EXISTS)
async def tag_exists(
    namespace: Namespace, repository: RepositoryName, tag: TagName, ctx: Ctx, caller: Viewer
) -> Response:
    await ctx.hub.tag(caller, f"{namespace}/{repository}", tag)
    return Response(status_code=200)
