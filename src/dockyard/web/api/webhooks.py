"""A repository's webhooks and their delivery history (admin rights on the repository).

    GET    /v2/repositories/{namespace}/{repository}/webhooks
    POST   /v2/repositories/{namespace}/{repository}/webhooks                 {name, hook_url, secret?}
    GET    /v2/repositories/{namespace}/{repository}/webhooks/{webhook_id}
    DELETE /v2/repositories/{namespace}/{repository}/webhooks/{webhook_id}
    GET    /v2/repositories/{namespace}/{repository}/webhooks/{webhook_id}/deliveries   newest first

The secret signs every delivery (``X-Dockyard-Signature-256``, hub/delivery.py); it is shown in
the answer to the creation only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from dockyard.accounts.records import Principal
from dockyard.hub.records import Webhook
from dockyard.web.api import present, schemas
from dockyard.web.api.deps import Context, Ctx, Namespace, PageNumber, PageSize, RepositoryName, User
from dockyard.web.api.errors import NotFound, responses
from dockyard.web.api.pagination import paginate, slice_page
from dockyard.web.api.routing import alias

router = APIRouter(tags=["webhooks"])

HOOKS = "/v2/repositories/{namespace}/{repository}/webhooks"
HOOK = "/v2/repositories/{namespace}/{repository}/webhooks/{webhook_id}"
HISTORY_LIMIT = 500
WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class WebhookPage(schemas.Paginated[schemas.Webhook]):
    pass


class DeliveryPage(schemas.Paginated[schemas.Delivery]):
    pass


@alias(router.get, HOOKS, response_model=WebhookPage, responses=responses(400, 401, 403, 404))
async def list_webhooks(
    namespace: Namespace,
    repository: RepositoryName,
    request: Request,
    ctx: Ctx,
    caller: User,
    page: PageNumber = 1,
    page_size: PageSize = 25,
) -> WebhookPage:
    found = await ctx.hub.webhooks(caller, f"{namespace}/{repository}")
    body = paginate(request, ctx.settings.public_url, slice_page(found, page, page_size), present.webhook)
    return WebhookPage(**body)


@alias(
    router.post,
    HOOKS,
    status_code=201,
    response_model=schemas.Webhook,
    responses=responses(400, 401, 403, 404),
)
async def create_webhook(
    namespace: Namespace, repository: RepositoryName, body: schemas.WebhookCreate, ctx: Ctx, caller: User
) -> schemas.Webhook:
    hook = await ctx.hub.add_webhook(
        caller, f"{namespace}/{repository}", body.name, body.hook_url, body.secret
    )
    return present.webhook(hook, with_secret=True)


@alias(router.get, HOOK, response_model=schemas.Webhook, responses=responses(400, 401, 403, 404))
async def get_webhook(
    namespace: Namespace, repository: RepositoryName, webhook_id: WebhookId, ctx: Ctx, caller: User
) -> schemas.Webhook:
    return present.webhook(await _find(ctx, caller, f"{namespace}/{repository}", webhook_id))


@alias(
    router.delete,
    HOOK,
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted"}, **responses(400, 401, 403, 404)},
)
async def delete_webhook(
    namespace: Namespace, repository: RepositoryName, webhook_id: WebhookId, ctx: Ctx, caller: User
) -> Response:
    """The webhook and its delivery history."""
    await ctx.hub.remove_webhook(caller, f"{namespace}/{repository}", webhook_id)
    return Response(status_code=204)


@alias(
    router.get,
    f"{HOOK}/deliveries",
    response_model=DeliveryPage,
    responses=responses(400, 401, 403, 404),
)
async def list_deliveries(
    namespace: Namespace,
    repository: RepositoryName,
    webhook_id: WebhookId,
    request: Request,
    ctx: Ctx,
    caller: User,
    page: PageNumber = 1,
    page_size: PageSize = 25,
) -> DeliveryPage:
    """The webhook's most recent deliveries (up to 500), newest first, with each one's last attempt."""
    name = f"{namespace}/{repository}"
    await _find(ctx, caller, name, webhook_id)
    history = await ctx.hub.deliveries(caller, name, limit=HISTORY_LIMIT)
    mine = [d for d in history if d.webhook_id == webhook_id]
    body = paginate(request, ctx.settings.public_url, slice_page(mine, page, page_size), present.delivery)
    return DeliveryPage(**body)


async def _find(ctx: Context, caller: Principal, name: str, webhook_id: int) -> Webhook:
    for hook in await ctx.hub.webhooks(caller, name):
        if hook.id == webhook_id:
            return hook
    raise NotFound(f"no webhook {webhook_id} on {name}")
