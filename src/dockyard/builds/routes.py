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

Who may do what is builds/access.py's table: reads follow the repository's visibility; build now,
cancel and retry need push rights; linking, relinking, unlinking and the rules need the
repository's admin (a personal access token with repo:admin); ``library/`` is for site
administrators. Repository names are canonicalised once (``nginx`` is ``library/nginx``).
Under token auth the caller authenticates with HTTP Basic (username and password or personal
access token), through the one throttled, audited login every door shares (AuthService.login).
Request bodies are limited while they are read by the server's body limits (dockyard.bodies);
the hooks look their link up before reading a byte of the body.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from dockyard.accounts.records import Principal
from dockyard.auth.service import AuthService
from dockyard.builds import params
from dockyard.builds.access import Need, decide, repository_name
from dockyard.builds.context import BuildsContext
from dockyard.builds.errors import BuildError, InvalidRequest, NotFound, TooManyRequests, Unauthorized
from dockyard.builds.records import FINISHED, BuildInfo, Link
from dockyard.builds.rules import Rule, RuleError, Variable
from dockyard.builds.runner import MASK
from dockyard.builds.service import BuildService
from dockyard.builds.triggers import Push, github_push, gitlab_push, verify_github, verify_gitlab
from dockyard.peers import client_ip
from dockyard.registry.errors import ErrorCode, RegistryError

Endpoint = Callable[[Request], Awaitable[Response]]
STREAM_POLL_SECONDS = 0.5
CREDENTIAL_FIELDS = frozenset({"username", "password", "ssh_key"})


def _context(request: Request) -> BuildsContext:
    context: BuildsContext = request.app.state.builds
    return context


def _error(exc: BuildError) -> JSONResponse:
    return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)


def _answers_errors(endpoint: Endpoint) -> Endpoint:
    """Every endpoint answers the domain's errors as ``{"error": message}`` with their status."""

    @functools.wraps(endpoint)
    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except BuildError as exc:
            return _error(exc)

    return answer


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        wanted = json.loads(body) if body.strip() else {}
    except ValueError:
        raise InvalidRequest("the body is not JSON") from None
    if not isinstance(wanted, dict):
        raise InvalidRequest("the body is not a JSON object")
    return wanted


async def github_hook(request: Request) -> Response:
    ctx, link_id = _context(request), params.record_id(request.path_params["link_id"], "the link id")
    try:
        secret = await ctx.service.webhook_secret(link_id)
    except NotFound:
        raise Unauthorized("bad or missing X-Hub-Signature-256") from None  # no probing for link ids
    body = await request.body()
    verify_github(secret, body, request.headers.get("x-hub-signature-256"))
    event = request.headers.get("x-github-event", "")
    if event == "ping":
        return JSONResponse({"ok": True, "event": "ping"})
    if event != "push":
        return JSONResponse({"ok": True, "ignored": f"event {event[:64]!r}"})
    return await _queue(ctx, link_id, github_push(body), "github")


async def gitlab_hook(request: Request) -> Response:
    ctx, link_id = _context(request), params.record_id(request.path_params["link_id"], "the link id")
    try:
        secret = await ctx.service.webhook_secret(link_id)
    except NotFound:
        raise Unauthorized("bad or missing X-Gitlab-Token") from None
    verify_gitlab(secret, request.headers.get("x-gitlab-token"))
    body = await request.body()
    if request.headers.get("x-gitlab-event") not in ("Push Hook", "Tag Push Hook"):
        return JSONResponse({"ok": True, "ignored": "not a push"})
    return await _queue(ctx, link_id, gitlab_push(body), "gitlab")


async def trigger_url(request: Request) -> Response:
    ctx, link_id = _context(request), params.record_id(request.path_params["link_id"], "the link id")
    if not await ctx.service.trigger_token_valid(link_id, request.path_params["token"]):
        raise Unauthorized("bad trigger token")
    wanted = _json_object(await request.body())
    builds = await ctx.trigger(link_id, wanted, "url")
    return JSONResponse({"builds": [b.as_json() for b in builds]}, status_code=202)


async def _queue(ctx: BuildsContext, link_id: int, push: Push | None, trigger: str) -> Response:
    if push is None:
        return JSONResponse({"ok": True, "builds": [], "reason": "ref deleted"})
    if push.skipped:
        return JSONResponse({"ok": True, "builds": [], "reason": "skipped by the commit message"})
    builds = await ctx.queue_push(link_id, push, trigger)
    return JSONResponse({"ok": True, "builds": [b.as_json() for b in builds]}, status_code=202)


# -- who is asking -----------------------------------------------------------------------------


async def _caller(request: Request) -> Principal | None:
    """The account behind HTTP Basic credentials, through the one throttled, audited login."""
    header = request.headers.get("authorization")
    if not header:
        return None
    username, secret = params.basic_credentials(header)
    auth: AuthService = request.app.state.auth
    try:
        return await auth.login(username, secret, client_ip(request), door="build-api")
    except RegistryError as exc:
        if exc.code is ErrorCode.TOOMANYREQUESTS:
            raise TooManyRequests(exc.message, dict(exc.headers)) from None
        raise Unauthorized("incorrect username or password") from None


async def _may(request: Request, repository: str, need: Need) -> Principal | None:
    """The caller, once they may do what ``need`` names on the (canonical) repository."""
    ctx = _context(request)
    if ctx.open_registry:
        return None
    principal = await _caller(request)
    decide(principal, repository, await ctx.accounts.repository_actions(principal, repository), need)
    return principal


def _name(request: Request) -> str:
    return repository_name(request.path_params["name"])


async def _build(request: Request, need: Need) -> BuildInfo:
    """The build the path names, once the caller may ``need`` on its repository."""
    build = await _context(request).service.build(params.record_id(request.path_params["build_id"]))
    await _may(request, build.repository, need)
    return build


# -- reading builds ---------------------------------------------------------------------------


async def list_builds(request: Request) -> Response:
    ctx, name = _context(request), _name(request)
    limit = params.page_size(request.query_params.get("limit"))
    await _may(request, name, "read")
    builds = await ctx.service.builds(name, limit=limit)
    return JSONResponse({"repository": name, "builds": [b.as_json() for b in builds]})


async def show_build(request: Request) -> Response:
    return JSONResponse((await _build(request, "read")).as_json())


async def build_log(request: Request) -> Response:
    after = params.log_position(request.query_params.get("after"))
    build = await _build(request, "read")
    lines = await _context(request).service.log(build.id, after)
    return JSONResponse(
        {
            "build": build.id,
            "state": build.state,
            "lines": [{"seq": line.seq, "text": line.text} for line in lines],
        }
    )


async def stream_log(request: Request) -> Response:
    """Server-sent events: ``line`` events as the log grows, then one ``end`` with the state."""
    build = await _build(request, "read")
    return log_stream(_context(request).service, build.id, request)


def log_stream(service: BuildService, build_id: int, request: Request) -> StreamingResponse:
    """The SSE answer for a build the caller may read (shared with the build's web page)."""
    start = params.log_position(request.query_params.get("after"), request.headers.get("last-event-id"))

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
    if action not in ("cancel", "retry"):
        raise NotFound(f"no action {action[:64]!r}")
    build = await _build(request, "operate")
    if action == "cancel":
        return JSONResponse((await ctx.service.cancel(build.id)).as_json())
    return JSONResponse((await ctx.service.retry(build.id)).as_json(), status_code=202)


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


def _credentials(payload: Any) -> dict[str, str] | None:
    if payload is None:
        return None
    if not isinstance(payload, dict) or not all(isinstance(v, str) for v in payload.values()):
        raise InvalidRequest("credentials must be an object of strings")
    unknown = set(payload) - CREDENTIAL_FIELDS
    if unknown:
        fields = ", ".join(sorted(CREDENTIAL_FIELDS))
        raise InvalidRequest(f"credentials take {fields}, not {', '.join(sorted(unknown))}")
    return payload or None


def _link_json(link: Link, request: Request) -> dict[str, Any]:
    """A link as anyone who may read the repository sees it: no credentials, secrets masked."""
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
    ctx, name = _context(request), _name(request)
    if request.method == "GET":
        await _may(request, name, "read")
        return JSONResponse(_link_json(await ctx.service.link_for(name), request))
    principal = await _may(request, name, "admin")
    if request.method == "DELETE":
        await ctx.service.unlink(name, actor=principal.username if principal else None)
        return Response(status_code=204)
    body = _json_object(await request.body())
    if not isinstance(body.get("source_url"), str):
        raise InvalidRequest('the body needs "source_url"')
    made = await ctx.service.create_link(
        name,
        body["source_url"],
        _rules(body.get("rules", [])),
        credentials=_credentials(body.get("credentials")),
        created_by=principal.username if principal else None,
    )
    answer = _link_json(made.link, request)
    answer["webhook_secret"] = made.webhook_secret
    answer["trigger_url"] = (
        f"{str(request.base_url).rstrip('/')}/api/build/trigger/{made.link.id}/{made.trigger_token}"
    )
    return JSONResponse(answer, status_code=201)


async def build_now(request: Request) -> Response:
    """ "Build now": body like the trigger URL's; needs push rights instead of the token."""
    ctx, name = _context(request), _name(request)
    await _may(request, name, "operate")
    link = await ctx.service.link_for(name)
    wanted = _json_object(await request.body())
    builds = await ctx.trigger(link.id, wanted, "manual")
    return JSONResponse({"builds": [b.as_json() for b in builds]}, status_code=202)


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
    ctx, name = _context(request), _name(request)
    await _may(request, name, "read")
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
