"""Automated builds (issue 5) in the JSON API: the same paths, bodies and rules as before they
moved here, with the API's error shape and a place in ``/v2/openapi.json``.

    POST /api/build/hooks/{link_id}/github          GitHub push webhook (X-Hub-Signature-256)
    POST /api/build/hooks/{link_id}/gitlab          GitLab push hook (X-Gitlab-Token)
    POST /api/build/trigger/{link_id}/{token}       trigger URL; body {} | {"source_type", "source_name"}
                                                    | {"docker_tag"}
    GET  /api/build/repositories/{name}/builds      build history, newest first
    GET|PUT|DELETE /api/build/repositories/{name}/link   the source link and its rules (build_links.py)
    POST /api/build/repositories/{name}/trigger     "Build now" (push rights; body as the trigger URL's)
    GET  /api/build/builds/{build_id}               one build
    GET  /api/build/builds/{build_id}/log?after=N   its log lines after line N
    GET  /api/build/builds/{build_id}/stream        the log as server-sent events, live
    POST /api/build/builds/{build_id}/cancel|retry
    GET  /api/build/badge/{name}.svg?tag=T          status badge

Who may do what is builds/access.py's table (``build_access.py`` asks it). Errors are the API's
``{"message", "errinfo", "detail"}``; the domain's ``BuildError`` maps to its status in
``errors.py``. A hook looks its link up before reading a byte of the body, and a request body is
read by the handler (a hook's signature covers the raw bytes), limited by dockyard.bodies.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from dockyard.builds import params
from dockyard.builds.access import Need, repository_name
from dockyard.builds.answers import badge_response, log_stream
from dockyard.builds.context import BuildsContext
from dockyard.builds.errors import InvalidRequest, NotFound, Unauthorized
from dockyard.builds.records import BuildInfo
from dockyard.builds.triggers import Push, github_push, gitlab_push, verify_github, verify_gitlab
from dockyard.web.api import build_schemas as schemas
from dockyard.web.api.build_access import BASIC, may
from dockyard.web.api.deps import context
from dockyard.web.api.errors import responses

router = APIRouter(prefix="/api/build", tags=["builds"])

ID = r"^[0-9]+$"  # digits; past the largest SQL integer is a 400 from params.record_id
LinkId = Annotated[str, Path(pattern=ID, max_length=40, description="the link's id")]
BuildId = Annotated[str, Path(pattern=ID, max_length=40, description="the build's id")]
Name = Annotated[
    str, Path(min_length=1, max_length=255, description="the repository (nginx means library/nginx)")
]
# Read as text and checked by builds/params.py, whose 400 names the parameter and its range.
Limit = Annotated[str | None, Query(description=f"builds per page, 1 to {params.MAX_PAGE}")]
After = Annotated[str | None, Query(description="the last log line already seen (0: from the start)")]
Documented = dict[int | str, dict[str, Any]]
ERRORS = responses(400, 401, 403, 404, 429)  # bad input, credentials, access, repository, throttle
SVG: Documented = {
    200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}, "description": "the badge"}
}
SSE: Documented = {
    200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}, "description": "events"}
}


def builds_context(request: Request) -> BuildsContext:
    return context(request).builds


def _hook_answers(ignored: str) -> Documented:
    answers: Documented = {200: {"model": schemas.HookAnswer, "description": ignored}}
    return answers | responses(400, 401, 404, 429)


def json_object(body: bytes) -> dict[str, Any]:
    try:
        wanted = json.loads(body) if body.strip() else {}
    except ValueError:
        raise InvalidRequest("the body is not JSON") from None
    if not isinstance(wanted, dict):
        raise InvalidRequest("the body is not a JSON object")
    return wanted


def _builds(found: list[BuildInfo]) -> list[dict[str, Any]]:
    return [b.as_json() for b in found]


# -- hooks and trigger URLs: the link's secret is the credential ---------------------------------------


@router.post(
    "/hooks/{link_id}/github",
    response_model=schemas.HookAnswer,
    status_code=202,
    responses=_hook_answers("a ping, or not a push"),
    openapi_extra=schemas.PUSH_EVENT,
)
async def github_hook(link_id: LinkId, request: Request) -> Response:
    ctx, link = builds_context(request), params.record_id(link_id, "the link id")
    secret = await _hook_secret(ctx, link, "X-Hub-Signature-256")
    body = await request.body()
    verify_github(secret, body, request.headers.get("x-hub-signature-256"))
    event = request.headers.get("x-github-event", "")
    if event == "ping":
        return JSONResponse({"ok": True, "event": "ping"})
    if event != "push":
        return JSONResponse({"ok": True, "ignored": f"event {event[:64]!r}"})
    return await _queue(ctx, link, github_push(body), "github")


@router.post(
    "/hooks/{link_id}/gitlab",
    response_model=schemas.HookAnswer,
    status_code=202,
    responses=_hook_answers("not a push"),
    openapi_extra=schemas.PUSH_EVENT,
)
async def gitlab_hook(link_id: LinkId, request: Request) -> Response:
    ctx, link = builds_context(request), params.record_id(link_id, "the link id")
    secret = await _hook_secret(ctx, link, "X-Gitlab-Token")
    verify_gitlab(secret, request.headers.get("x-gitlab-token"))
    body = await request.body()
    if request.headers.get("x-gitlab-event") not in ("Push Hook", "Tag Push Hook"):
        return JSONResponse({"ok": True, "ignored": "not a push"})
    return await _queue(ctx, link, gitlab_push(body), "gitlab")


async def _hook_secret(ctx: BuildsContext, link_id: int, header: str) -> str:
    """The link's webhook secret. An unknown link answers as a bad signature does: no probing
    for link ids."""
    try:
        return await ctx.service.webhook_secret(link_id)
    except NotFound:
        raise Unauthorized(f"bad or missing {header}") from None


async def _queue(ctx: BuildsContext, link_id: int, push: Push | None, trigger: str) -> Response:
    if push is None:
        return JSONResponse({"ok": True, "builds": [], "reason": "ref deleted"})
    if push.skipped:
        return JSONResponse({"ok": True, "builds": [], "reason": "skipped by the commit message"})
    builds = await ctx.queue_push(link_id, push, trigger)
    return JSONResponse({"ok": True, "builds": _builds(builds)}, status_code=202)


@router.post(
    "/trigger/{link_id}/{token}",
    response_model=schemas.Queued,
    status_code=202,
    responses=responses(400, 401, 404, 429),
    openapi_extra=schemas.TRIGGER_BODY,
)
async def trigger_url(
    link_id: LinkId, token: Annotated[str, Path(max_length=200)], request: Request
) -> Response:
    ctx, link = builds_context(request), params.record_id(link_id, "the link id")
    if not await ctx.service.trigger_token_valid(link, token):
        raise Unauthorized("bad trigger token")
    wanted = json_object(await request.body())
    builds = await ctx.trigger(link, wanted, "url")
    return JSONResponse({"builds": _builds(builds)}, status_code=202)


# -- builds -------------------------------------------------------------------------------------------


async def _build(request: Request, build_id: str, need: Need) -> BuildInfo:
    """The build the path names, once the caller may ``need`` on its repository."""
    build = await builds_context(request).service.build(params.record_id(build_id))
    await may(request, build.repository, need)
    return build


@router.get(
    "/repositories/{name:path}/builds",
    response_model=schemas.BuildHistory,
    responses=ERRORS,
    dependencies=BASIC,
)
async def list_builds(name: Name, request: Request, limit: Limit = None) -> Response:
    ctx, repository = builds_context(request), repository_name(name)
    limit_ = params.page_size(limit)
    await may(request, repository, "read")
    builds = await ctx.service.builds(repository, limit=limit_)
    return JSONResponse({"repository": repository, "builds": _builds(builds)})


@router.get(
    "/builds/{build_id}",
    response_model=schemas.Build,
    responses=ERRORS,
    dependencies=BASIC,
)
async def show_build(build_id: BuildId, request: Request) -> Response:
    return JSONResponse((await _build(request, build_id, "read")).as_json())


@router.get(
    "/builds/{build_id}/log",
    response_model=schemas.Log,
    responses=ERRORS,
    dependencies=BASIC,
)
async def build_log(build_id: BuildId, request: Request, after: After = None) -> Response:
    position = params.log_position(after)
    build = await _build(request, build_id, "read")
    lines = await builds_context(request).service.log(build.id, position)
    body = {"build": build.id, "state": build.state, "lines": [{"seq": x.seq, "text": x.text} for x in lines]}
    return JSONResponse(body)


@router.get(
    "/builds/{build_id}/stream",
    response_class=Response,
    responses=SSE | ERRORS,
    dependencies=BASIC,
)
async def stream_log(build_id: BuildId, request: Request, after: After = None) -> Response:
    """Server-sent events: ``line`` events as the log grows, then one ``end`` with the state;
    ``Last-Event-ID`` (a reconnecting EventSource's) wins over ``after``."""
    build = await _build(request, build_id, "read")
    return log_stream(builds_context(request).service, build.id, request)


@router.post(
    "/builds/{build_id}/cancel",
    response_model=schemas.Build,
    responses=ERRORS,
    dependencies=BASIC,
)
async def cancel_build(build_id: BuildId, request: Request) -> Response:
    build = await _build(request, build_id, "operate")
    return JSONResponse((await builds_context(request).service.cancel(build.id)).as_json())


@router.post(
    "/builds/{build_id}/retry",
    response_model=schemas.Build,
    status_code=202,
    responses=ERRORS,
    dependencies=BASIC,
)
async def retry_build(build_id: BuildId, request: Request) -> Response:
    build = await _build(request, build_id, "operate")
    retried = await builds_context(request).service.retry(build.id)
    return JSONResponse(retried.as_json(), status_code=202)


@router.post(
    "/repositories/{name:path}/trigger",
    response_model=schemas.Queued,
    status_code=202,
    responses=ERRORS,
    dependencies=BASIC,
    openapi_extra=schemas.TRIGGER_BODY,
)
async def build_now(name: Name, request: Request) -> Response:
    """ "Build now": body like the trigger URL's; needs push rights instead of the token."""
    ctx, repository = builds_context(request), repository_name(name)
    await may(request, repository, "operate")
    link = await ctx.service.link_for(repository)
    wanted = json_object(await request.body())
    builds = await ctx.trigger(link.id, wanted, "manual")
    return JSONResponse({"builds": _builds(builds)}, status_code=202)


@router.get(
    "/badge/{name:path}.svg",
    response_class=Response,
    responses=SVG | ERRORS,
    dependencies=BASIC,
)
async def badge(name: Name, request: Request, tag: str | None = None) -> Response:
    repository = repository_name(name)
    await may(request, repository, "read")
    return badge_response(await builds_context(request).service.latest_finished(repository, tag))
