"""Tags with their platform images, compressed sizes and activity.

    GET    /v2/repositories/{namespace}/{repository}/tags            page, page_size, ordering, name, cursor
    GET    /v2/repositories/{namespace}/{repository}/tags/{tag}
    DELETE /v2/repositories/{namespace}/{repository}/tags/{tag}      204; the manifest stays

``ordering=last_updated`` is newest push first, as on Docker Hub; ``-last_updated`` oldest first.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from dockyard.hub.records import TagOrdering
from dockyard.web.api import present, schemas
from dockyard.web.api.deps import TAG as TAG_PATTERN
from dockyard.web.api.deps import Context, Ctx, Namespace, PageNumber, PageSize, RepositoryName, User, Viewer
from dockyard.web.api.errors import NotFound, responses
from dockyard.web.api.pagination import Cursor, paginate
from dockyard.web.api.routing import alias

router = APIRouter(tags=["tags"])

ORDERINGS: dict[str, TagOrdering] = {
    "last_updated": "-last_pushed",
    "-last_updated": "last_pushed",
    "name": "name",
    "-name": "-name",
}
TAGS = "/v2/repositories/{namespace}/{repository}/tags"
TAG = "/v2/repositories/{namespace}/{repository}/tags/{tag}"
TagName = Annotated[str, Path(pattern=TAG_PATTERN, max_length=128, description="the tag's name")]


class TagPage(schemas.Paginated[schemas.Tag]):
    pass


@alias(router.get, TAGS, response_model=TagPage, responses=responses(400, 401, 404))
async def list_tags(
    namespace: Namespace,
    repository: RepositoryName,
    request: Request,
    ctx: Ctx,
    caller: Viewer,
    page: PageNumber = 1,
    page_size: PageSize = 10,
    ordering: Annotated[Literal["last_updated", "-last_updated", "name", "-name"], Query()] = "last_updated",
    name: Annotated[str, Query(max_length=128, description="only tags whose name contains this")] = "",
    cursor: Cursor = None,
) -> TagPage:
    """Newest push first by default, as on Docker Hub."""
    full = f"{namespace}/{repository}"
    found = await ctx.hub.tags(
        caller,
        full,
        ordering=ORDERINGS[ordering],
        contains=name,
        page=page,
        page_size=page_size,
        cursor=cursor,
    )
    repository_id = await _repository_id(ctx, full)
    ids = await ctx.store.user_ids(name for t in found.items for name in (t.creator, t.pusher))
    body = paginate(request, ctx.settings.public_url, found, lambda t: present.tag(t, repository_id, ids))
    return TagPage(**body)


@alias(router.get, TAG, response_model=schemas.Tag, responses=responses(400, 401, 404))
async def get_tag(
    namespace: Namespace, repository: RepositoryName, tag: TagName, ctx: Ctx, caller: Viewer
) -> schemas.Tag:
    full = f"{namespace}/{repository}"
    found = await ctx.hub.tag(caller, full, tag)
    ids = await ctx.store.user_ids([found.creator, found.pusher])
    return present.tag(found, await _repository_id(ctx, full), ids)


@alias(
    router.delete,
    TAG,
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted"}, **responses(400, 401, 403, 404)},
)
async def delete_tag(
    namespace: Namespace, repository: RepositoryName, tag: TagName, ctx: Ctx, caller: User
) -> Response:
    """Untag; needs the delete right (admin) on the repository."""
    await ctx.hub.delete_tag(caller, f"{namespace}/{repository}", tag)
    return Response(status_code=204)


async def _repository_id(ctx: Context, name: str) -> int:
    facts = (await ctx.store.repository_facts([name])).get(name)
    if facts is None:  # deleted between the two reads
        raise NotFound(f"repository {name!r} not found")
    return facts.id
