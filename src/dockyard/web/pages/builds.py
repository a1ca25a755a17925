"""Automated builds on the repository pages: the Builds tab, one build with its live log, and the
source link with its rules on the settings page.

    GET  …/builds                        history, newest first; "Build now" for those with push rights
    POST …/builds/trigger                "Build now": every literal rule's ref, as the trigger URL does
    GET  …/builds/badge.svg?tag=T        the status badge, read rights from the session
    GET  …/builds/{id}                   one build and its log (builds.js follows …/stream while it runs)
    GET  …/builds/{id}/stream            the log as server-sent events, read rights from the session
    GET  …/builds/{id}/status            its state, times and commit as JSON, for the page to follow
    POST …/builds/{id}/cancel, …/retry   push rights
    POST …/settings/builds               link (or re-link) a git source with its rules and https
                                         credentials; admins of the repository
    POST …/settings/builds/delete        unlink; admins of the repository

Everything goes through the builds domain's BuildService and BuildsContext; who may do what comes
from the hub's RepositoryDetail, as on the other repository pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse, Response

from dockyard.builds import params
from dockyard.builds.answers import badge_response, log_stream
from dockyard.builds.errors import BuildError
from dockyard.builds.errors import NotFound as NoBuild
from dockyard.builds.records import ACTIVE, FINISHED, BuildInfo, NewLink
from dockyard.builds.rules import SOURCE_TYPES, Rule, RuleError
from dockyard.builds.source_secrets import public_url
from dockyard.hub.errors import NotFound, PermissionDenied
from dockyard.hub.records import RepositoryDetail
from dockyard.web.context import WebRequest, error_page, page
from dockyard.web.pages.build_link import (
    BLANK_RULE,
    MAX_RULES,
    RULE_FIELDS,
    base_url,
    builds_of,
    link_or_none,
    link_view,
)
from dockyard.web.pages.common import repository_name, repository_url
from dockyard.web.pages.settings import settings_page


def duration(build: BuildInfo, now: datetime | None = None) -> str:
    """How long the build ran: 1m 05s; still running counts up to now."""
    if build.started_at is None:
        return "-"
    end = build.finished_at or now
    if end is None:
        return "-"
    seconds = max(0, int((end - build.started_at).total_seconds()))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def with_build_errors(
    handler: Callable[[WebRequest], Awaitable[Response]],
) -> Callable[[WebRequest], Awaitable[Response]]:
    """The builds domain's typed errors as the pages' error page (its NotFound as the 404)."""

    async def wrapped(web: WebRequest) -> Response:
        try:
            return await handler(web)
        except NoBuild as missing:
            raise NotFound(missing.message) from None
        except BuildError as error:
            return error_page(web, error.status, "That did not work", error.message)

    wrapped.__name__, wrapped.__doc__ = handler.__name__, handler.__doc__
    return wrapped


async def _repository(web: WebRequest, action: str | None = None) -> RepositoryDetail:
    detail = await web.hub.repository(web.viewer, repository_name(web))
    if action == "push" and not detail.can_push:
        raise PermissionDenied("only those who can push to this repository can start or stop its builds")
    if action == "admin" and not detail.can_admin:
        raise PermissionDenied("only administrators of this repository can change its builds")
    return detail


async def _build(web: WebRequest, detail: RepositoryDetail) -> BuildInfo:
    build = await builds_of(web).service.build(params.record_id(web.path("build_id")))
    if build.repository != detail.name:
        raise NotFound(f"no build {build.id} in {detail.name}")
    return build


def _badge(web: WebRequest, name: str) -> dict[str, str]:
    """The badge shown here (read rights from the session) and the Markdown for READMEs (public)."""
    url = f"{base_url(web)}/api/build/badge/{name}.svg"
    return {
        "path": f"{repository_url(name)}/builds/badge.svg",
        "markdown": f"[![build]({url})]({base_url(web)}{repository_url(name)}/builds)",
    }


@page
@with_build_errors
async def history(web: WebRequest) -> Response:
    detail = await _repository(web)
    builds = await builds_of(web).service.builds(detail.name, limit=50)
    return web.render(
        "builds/history.html",
        repo=detail,
        builds=builds,
        link=await link_or_none(web, detail.name),
        badge=_badge(web, detail.name),
        queued=web.param("queued"),
        duration=duration,
        tab="builds",
    )


@page
@with_build_errors
async def badge(web: WebRequest) -> Response:
    detail = await _repository(web)
    return badge_response(await builds_of(web).service.latest_finished(detail.name, web.param("tag") or None))


@page
@with_build_errors
async def build_now(web: WebRequest) -> Response:
    detail = await _repository(web, "push")
    ctx = builds_of(web)
    link = await ctx.service.link_for(detail.name)
    queued = await ctx.trigger(link.id, {}, "manual")
    if len(queued) == 1:
        return web.redirect(f"{repository_url(detail.name)}/builds/{queued[0].id}")
    return web.redirect(f"{repository_url(detail.name)}/builds?queued={len(queued)}")


@page
@with_build_errors
async def build(web: WebRequest) -> Response:
    detail = await _repository(web)
    found = await _build(web, detail)
    return web.render(
        "builds/build.html",
        repo=detail,
        build=found,
        log=await builds_of(web).service.log(found.id),
        finished=found.state in FINISHED,
        active=found.state in ACTIVE,
        badge=_badge(web, detail.name),
        duration=duration,
        now=datetime.now(UTC),
        tab="builds",
    )


@page
@with_build_errors
async def status(web: WebRequest) -> Response:
    """What the build page updates while the build runs (builds.js): state, times, commit."""
    detail = await _repository(web)
    found = await _build(web, detail)
    return JSONResponse(
        {
            "state": found.state,
            "finished": found.state in FINISHED,
            "started_at": found.started_at.isoformat() if found.started_at else None,
            "finished_at": found.finished_at.isoformat() if found.finished_at else None,
            "duration": duration(found, datetime.now(UTC)),
            "commit": found.commit,
            "commit_message": found.commit_message,
            "digest": found.digest,
        }
    )


@page
@with_build_errors
async def stream(web: WebRequest) -> Response:
    detail = await _repository(web)
    found = await _build(web, detail)
    return log_stream(builds_of(web).service, found.id, web.request)


@page
@with_build_errors
async def cancel(web: WebRequest) -> Response:
    detail = await _repository(web, "push")
    canceled = await builds_of(web).service.cancel((await _build(web, detail)).id)
    return web.redirect(f"{repository_url(detail.name)}/builds/{canceled.id}")


@page
@with_build_errors
async def retry(web: WebRequest) -> Response:
    detail = await _repository(web, "push")
    again = await builds_of(web).service.retry((await _build(web, detail)).id)
    return web.redirect(f"{repository_url(detail.name)}/builds/{again.id}")


async def _typed_rows(web: WebRequest) -> list[dict[str, str]]:
    form = await web.form()
    columns = {name: [str(v) for v in form.getlist(name)] for name in RULE_FIELDS}
    count = min(max(len(values) for values in columns.values()), MAX_RULES)
    return [
        {name: (columns[name][i].strip() if i < len(columns[name]) else "") for name in RULE_FIELDS}
        for i in range(count)
    ]


def _rules(rows: list[dict[str, str]]) -> list[Rule]:
    """Rows with a source name become rules; a blank row is the form's spare one."""
    rules = []
    for number, row in enumerate(rows, 1):
        if not row["source_name"]:
            continue
        if row["source_type"] not in SOURCE_TYPES:
            raise RuleError(f"rule {number}: source type must be branch or tag")
        try:
            rules.append(
                Rule(
                    row["source_type"],
                    row["source_name"],
                    row["docker_tag"] or "latest",
                    row["dockerfile"] or "Dockerfile",
                    row["context"] or ".",
                    autobuild=row["autobuild"] != "off",
                )
            )
        except RuleError as error:
            raise RuleError(f"rule {number}: {error}") from None
    return rules


async def _credentials(web: WebRequest) -> dict[str, str] | None:
    """The https username and password typed in; None (keep the saved ones) when both are blank."""
    username, password = (await web.field("username")).strip(), await web.field("password")
    return {"username": username, "password": password} if username or password else None


async def _settings(web: WebRequest, status: int = 200, **context: Any) -> Response:
    return await settings_page(web, status, tab="builds", **context)


@page
@with_build_errors
async def save_link(web: WebRequest) -> Response:
    detail = await _repository(web, "admin")
    source_url = (await web.field("source_url")).strip()
    rows = await _typed_rows(web)
    ctx = builds_of(web)
    try:
        made: NewLink = await ctx.service.create_link(
            detail.name,
            source_url,
            _rules(rows),
            credentials=await _credentials(web),
            keep_credentials=True,
            created_by=web.viewer.username if web.viewer else None,
        )
    except (RuleError, BuildError) as error:
        message = error.message if isinstance(error, BuildError) else str(error)
        view = await link_view(web, detail.name, [*[r for r in rows if r["source_name"]], dict(BLANK_RULE)])
        typed = public_url(source_url)  # never echo credentials typed into the URL
        return await _settings(web, 400, errors={"builds": message}, build_link=view, build_source=typed)
    trigger = f"{base_url(web)}/api/build/trigger/{made.link.id}/{made.trigger_token}"
    shown_once = {
        "link": {"source_url": public_url(made.link.source_url)},
        "webhook_secret": made.webhook_secret,
    }
    return web.redirect(
        f"{repository_url(detail.name)}/settings/builds", new_link=shown_once, trigger_url=trigger
    )


@page
@with_build_errors
async def remove_link(web: WebRequest) -> Response:
    detail = await _repository(web, "admin")
    await builds_of(web).service.unlink(detail.name, actor=web.viewer.username if web.viewer else None)
    return web.redirect(f"{repository_url(detail.name)}/settings/builds", notice="Unlinked.")
