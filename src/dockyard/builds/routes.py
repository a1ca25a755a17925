"""HTTP endpoints of the builds domain. Handlers parse, call the service, and answer.

    POST /api/build/hooks/{link}/github          GitHub push webhook (X-Hub-Signature-256)
    POST /api/build/hooks/{link}/gitlab          GitLab push hook (X-Gitlab-Token)
    POST /api/build/trigger/{link}/{token}       trigger URL; body {} | {"source_type", "source_name"}
                                                 | {"docker_tag"}
    GET  /api/build/repositories/{repo}/builds   build history, newest first
    GET|PUT|DELETE /api/build/repositories/{repo}/link   the source link and its rules
    POST /api/build/repositories/{repo}/trigger  "Build now" (push rights; body as the trigger URL's)
    GET  /api/build/builds/{id}                  one build
    GET  /api/build/builds/{id}/log?after=N      its log lines after line N
    GET  /api/build/builds/{id}/stream           the log as server-sent events, live
    POST /api/build/builds/{id}/cancel|retry
    GET  /api/build/badge/{repo}.svg?tag=T       status badge

Reads follow the repository's visibility; cancel and retry need push rights. Under token auth
the caller authenticates with HTTP Basic (username and password or personal access token).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from dockyard.builds.context import BuildsContext
from dockyard.builds.errors import BuildError, InvalidRequest, NotFound, Unauthorized
from dockyard.builds.records import FINISHED, BuildInfo, Link
from dockyard.builds.rules import Rule, RuleError, Variable
from dockyard.builds.runner import MASK
from dockyard.builds.service import BuildService
from dockyard.builds.triggers import Push, github_push, gitlab_push, verify_github, verify_gitlab

MAX_BODY = 5 * 1024 * 1024
Endpoint = Callable[[Request], Awaitable[Response]]
STREAM_POLL_SECONDS = 0.5


def _context(request: Request) -> BuildsContext:
    context: BuildsContext = request.app.state.builds
    return context


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise InvalidRequest("the body is too large")
    return body


def _error(exc: BuildError) -> JSONResponse:
    return JSONResponse({"error": exc.message}, status_code=exc.status)


def _answers_errors(endpoint: Endpoint) -> Endpoint:
    """Every endpoint answers the domain's errors as ``{"error": message}`` with their status."""

    @functools.wraps(endpoint)
    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except BuildError as exc:
            return _error(exc)

    return answer


async def github_hook(request: Request) -> Response:
    ctx, link_id = _context(request), request.path_params["link_id"]
    try:
        body = await _body(request)
        verify_github(
            await ctx.service.webhook_secret(link_id), body, request.headers.get("x-hub-signature-256")
        )
        event = request.headers.get("x-github-event", "")
        if event == "ping":
            return JSONResponse({"ok": True, "event": "ping"})
        if event != "push":
            return JSONResponse({"ok": True, "ignored": f"event {event!r}"})
        return await _queue(ctx, link_id, github_push(body), "github")
    except NotFound:
        return _error(Unauthorized("bad or missing X-Hub-Signature-256"))  # no probing for link ids


async def gitlab_hook(request: Request) -> Response:
    ctx, link_id = _context(request), request.path_params["link_id"]
    try:
        body = await _body(request)
        verify_gitlab(await ctx.service.webhook_secret(link_id), request.headers.get("x-gitlab-token"))
        if request.headers.get("x-gitlab-event") not in ("Push Hook", "Tag Push Hook"):
            return JSONResponse({"ok": True, "ignored": "not a push"})
        return await _queue(ctx, link_id, gitlab_push(body), "gitlab")
    except NotFound:
        return _error(Unauthorized("bad or missing X-Gitlab-Token"))


async def trigger_url(request: Request) -> Response:
    ctx, link_id = _context(request), request.path_params["link_id"]
    try:
        if not await ctx.service.trigger_token_valid(link_id, request.path_params["token"]):
            raise Unauthorized("bad trigger token")
        body = await _body(request)
        wanted = json.loads(body) if body.strip() else {}
        if not isinstance(wanted, dict):
            raise InvalidRequest("the body is not a JSON object")
        builds = await ctx.trigger(link_id, wanted, "url")
        return JSONResponse({"builds": [b.as_json() for b in builds]}, status_code=202)
    except ValueError:
        return _error(InvalidRequest("the body is not JSON"))


async def _queue(ctx: BuildsContext, link_id: int, push: Push | None, trigger: str) -> Response:
    if push is None:
        return JSONResponse({"ok": True, "builds": [], "reason": "ref deleted"})
    if push.skipped:
        return JSONResponse({"ok": True, "builds": [], "reason": "skipped by the commit message"})
    builds = await ctx.queue_push(link_id, push, trigger)
    return JSONResponse({"ok": True, "builds": [b.as_json() for b in builds]}, status_code=202)


# -- reading builds ---------------------------------------------------------------------------


async def _may(request: Request, repository: str, action: str) -> str | None:
    """The caller's username once they may do ``action`` on the repository (None if anonymous)."""
    ctx = _context(request)
    if ctx.open_registry:
        return None
    principal = None
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            username, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("bad Authorization header") from None
        principal = await ctx.accounts.authenticate(username, secret)
        if principal is None:
            raise Unauthorized("incorrect username or password")
    if action not in await ctx.accounts.repository_actions(principal, repository):
        raise (
            NotFound(f"no builds for {repository}")
            if principal or action == "pull"
            else Unauthorized("authentication required")
        )
    return principal.username if principal else None


async def list_builds(request: Request) -> Response:
    ctx, name = _context(request), request.path_params["name"]
    await _may(request, name, "pull")
    builds = await ctx.service.builds(name, limit=min(int(request.query_params.get("limit", 50)), 500))
    return JSONResponse({"repository": name, "builds": [b.as_json() for b in builds]})


async def show_build(request: Request) -> Response:
    ctx = _context(request)
    build = await ctx.service.build(request.path_params["build_id"])
    await _may(request, build.repository, "pull")
    return JSONResponse(build.as_json())


async def build_log(request: Request) -> Response:
    ctx = _context(request)
    build = await ctx.service.build(request.path_params["build_id"])
    await _may(request, build.repository, "pull")
    after = int(request.query_params.get("after", 0))
    lines = await ctx.service.log(build.id, after)
    return JSONResponse(
        {
            "build": build.id,
            "state": build.state,
            "lines": [{"seq": line.seq, "text": line.text} for line in lines],
        }
    )


async def stream_log(request: Request) -> Response:
    """Server-sent events: ``line`` events as the log grows, then one ``end`` with the state."""
    ctx = _context(request)
    build = await ctx.service.build(request.path_params["build_id"])
    await _may(request, build.repository, "pull")
    return log_stream(ctx.service, build.id, request)


def log_stream(service: BuildService, build_id: int, request: Request) -> StreamingResponse:
    """The SSE answer for a build the caller may read (shared with the build's web page)."""
    start = int(request.headers.get("last-event-id") or request.query_params.get("after") or 0)

    async def events() -> AsyncIterator[str]:
        after = start
        while True:
            state = (await service.build(build_id)).state
            for line in await service.log(build_id, after):
                after = line.seq
                yield f"id: {line.seq}\nevent: line\ndata: {json.dumps(line.text)}\n\n"
            if state in FINISHED:
                yield f"event: end\ndata: {json.dumps(state)}\n\n"
                return
            yield ": waiting\n\n"
            await anyio.sleep(STREAM_POLL_SECONDS)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


async def change_build(request: Request) -> Response:
    ctx, action = _context(request), request.path_params["action"]
    build = await ctx.service.build(request.path_params["build_id"])
    await _may(request, build.repository, "push")
    if action == "cancel":
        changed = await ctx.service.cancel(build.id)
    elif action == "retry":
        changed = await ctx.service.retry(build.id)
    else:
        raise NotFound(f"no action {action!r}")
    return JSONResponse(changed.as_json(), status_code=202 if action == "retry" else 200)


# -- links and rules -------------------------------------------------------------------------


def _rules(payload: Any) -> list[Rule]:
    if not isinstance(payload, list):
        raise InvalidRequest("rules must be a list")
    try:
        return [
            Rule(**{**r, "variables": tuple(Variable(**v) for v in r.get("variables") or [])})
            for r in payload
        ]
    except (RuleError, TypeError, AttributeError) as exc:
        raise InvalidRequest(f"bad rule: {exc}") from None


def _link_json(link: Link, request: Request) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    rules = [
        {
            **asdict(r),
            "variables": [{**asdict(v), "value": MASK if v.secret else v.value} for v in r.variables],
        }
        for r in link.rules
    ]
    return {
        "id": link.id,
        "repository": link.repository,
        "source_url": link.source_url,
        "created_by": link.created_by,
        "created_at": link.created_at.isoformat(),
        "github_webhook": f"{base}/api/build/hooks/{link.id}/github",
        "gitlab_webhook": f"{base}/api/build/hooks/{link.id}/gitlab",
        "rules": rules,
    }


async def repository_link(request: Request) -> Response:
    """GET the link, PUT a new one (its secret and trigger URL are shown in this answer only), DELETE it."""
    ctx, name = _context(request), request.path_params["name"]
    if request.method == "GET":
        await _may(request, name, "pull")
        return JSONResponse(_link_json(await ctx.service.link_for(name), request))
    username = await _may(request, name, "push")
    if request.method == "DELETE":
        await ctx.service.unlink(name)
        return Response(status_code=204)
    try:
        body = json.loads(await _body(request))
    except ValueError:
        raise InvalidRequest("the body is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("source_url"), str):
        raise InvalidRequest('the body needs "source_url"')
    credentials = body.get("credentials")
    if credentials is not None and not (
        isinstance(credentials, dict) and all(isinstance(v, str) for v in credentials.values())
    ):
        raise InvalidRequest("credentials must be an object of strings")
    made = await ctx.service.create_link(
        name,
        body["source_url"],
        _rules(body.get("rules", [])),
        credentials=credentials,
        created_by=username,
    )
    answer = _link_json(made.link, request)
    answer["webhook_secret"] = made.webhook_secret
    answer["trigger_url"] = (
        f"{str(request.base_url).rstrip('/')}/api/build/trigger/{made.link.id}/{made.trigger_token}"
    )
    return JSONResponse(answer, status_code=201)


async def build_now(request: Request) -> Response:
    """ "Build now": body like the trigger URL's; needs push rights instead of the token."""
    ctx, name = _context(request), request.path_params["name"]
    try:
        await _may(request, name, "push")
        link = await ctx.service.link_for(name)
        body = await _body(request)
        wanted = json.loads(body) if body.strip() else {}
        if not isinstance(wanted, dict):
            raise InvalidRequest("the body is not a JSON object")
        builds = await ctx.trigger(link.id, wanted, "manual")
        return JSONResponse({"builds": [b.as_json() for b in builds]}, status_code=202)
    except ValueError:
        return _error(InvalidRequest("the body is not JSON"))


# -- badge --------------------------------------------------------------------------------------

BADGE_COLOURS = {"success": "#4c1", "failed": "#e05d44", "none": "#9f9f9f"}
BADGE = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
    'aria-label="build: {text}">'
    '<rect width="40" height="20" fill="#555"/><rect x="40" width="{right}" height="20" fill="{colour}"/>'
    '<g fill="#fff" font-family="Verdana,sans-serif" font-size="11">'
    '<text x="6" y="14">build</text><text x="46" y="14">{text}</text></g></svg>'
)


async def badge(request: Request) -> Response:
    ctx, name = _context(request), request.path_params["name"]
    await _may(request, name, "pull")
    build = await ctx.service.latest_finished(name, request.query_params.get("tag"))
    return badge_response(build)


def badge_response(build: BuildInfo | None) -> Response:
    """The SVG badge of the newest finished build (shared with the repository's Builds page)."""
    text = {"success": "passing", "failed": "failing"}.get(build.state if build else "", "none")
    colour = BADGE_COLOURS[build.state if build else "none"]
    right = 12 + 7 * len(text)
    svg = BADGE.format(width=40 + right, right=right, colour=colour, text=text)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-cache"})


def build_routes() -> list[BaseRoute]:
    def post(path: str, endpoint: Endpoint) -> Route:
        return Route(path, _answers_errors(endpoint), methods=["POST"])

    def get(path: str, endpoint: Endpoint, methods: tuple[str, ...] = ("GET",)) -> Route:
        return Route(path, _answers_errors(endpoint), methods=list(methods))

    return [
        post("/api/build/hooks/{link_id:int}/github", github_hook),
        post("/api/build/hooks/{link_id:int}/gitlab", gitlab_hook),
        post("/api/build/trigger/{link_id:int}/{token}", trigger_url),
        get("/api/build/repositories/{name:path}/builds", list_builds),
        get("/api/build/repositories/{name:path}/link", repository_link, ("GET", "PUT", "DELETE")),
        post("/api/build/repositories/{name:path}/trigger", build_now),
        get("/api/build/builds/{build_id:int}", show_build),
        get("/api/build/builds/{build_id:int}/log", build_log),
        get("/api/build/builds/{build_id:int}/stream", stream_log),
        post("/api/build/builds/{build_id:int}/{action}", change_build),
        get("/api/build/badge/{name:path}.svg", badge),
    ]
