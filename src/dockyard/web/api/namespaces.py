"""Docker Hub's current repository and tag paths, beside the older /v2/repositories/... ones and
in the same shapes.

    GET  /v2/namespaces/{namespace}/repositories                          page, page_size, name, ordering
    GET  /v2/namespaces/{namespace}/repositories/{repository}             HEAD: does it exist (for you)
    GET  /v2/namespaces/{namespace}/repositories/{repository}/tags        page, page_size, ordering, name
    GET  /v2/namespaces/{namespace}/repositories/{repository}/tags/{tag}  HEAD too

``ordering`` here is Django's, as Docker Hub documents it: ``last_updated`` is oldest first and
``-last_updated`` newest first (the default), likewise ``name``/``-name`` and
``pull_count``/``-pull_count``. (The older path's ``last_updated`` is newest first, as Docker Hub
answers there.) POST to the listing creates a repository: repositories.py. Listings page by
keyset: ``next`` and ``previous`` carry a ``cursor`` beside ``page`` (pagination.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from dockyard.hub.records import RepositoryOrdering
from dockyard.web.api import repositories, schemas, tags
from dockyard.web.api.deps import Ctx, Namespace, PageNumber, PageSize, RepositoryName, Viewer
from dockyard.web.api.errors import responses
from dockyard.web.api.pagination import Cursor
from dockyard.web.api.repositories import RepositoryPage, namespace_page
from dockyard.web.api.routing import alias
from dockyard.web.api.tags import TagName, TagPage

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
    cursor: Cursor = None,
) -> RepositoryPage:
    """The namespace's repositories the caller may pull."""
    return await namespace_page(
        request, ctx, caller, namespace, page, page_size, ORDERINGS[ordering], name, cursor=cursor
    )


# The same handlers as the older paths': the path parameters are named alike.
alias(router.get, REPOSITORY, response_model=schemas.Repository, responses=responses(400, 401, 404))(
    repositories.get_repository
)
alias(router.get, TAGS, response_model=TagPage, responses=responses(400, 401, 404))(tags.list_tags)
alias(router.get, TAG, response_model=schemas.Tag, responses=responses(400, 401, 404))(tags.get_tag)


@alias(router.head, REPOSITORY, response_class=Response, responses=EXISTS)
async def repository_exists(
    namespace: Namespace, repository: RepositoryName, ctx: Ctx, caller: Viewer
) -> Response:
    await ctx.hub.repository(caller, f"{namespace}/{repository}")
    return Response(status_code=200)


@alias(router.head, TAG, response_class=Response, responses=EXISTS)
async def tag_exists(
    namespace: Namespace, repository: RepositoryName, tag: TagName, ctx: Ctx, caller: Viewer
) -> Response:
    await ctx.hub.tag(caller, f"{namespace}/{repository}", tag)
    return Response(status_code=200)
