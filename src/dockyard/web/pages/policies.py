"""Tag policies on the web: a repository's immutable tags and retention policy (its settings
tab), and a namespace's retention policy (its own page). Forms post and redirect back (PRG); a
refused form shows its page again with the error and what was typed. The preview is a GET: it
lists exactly what the policy deletes when the janitor next applies it.

    GET  …/NS/NAME/settings/policies[?preview=1]   immutable tags, retention, the preview
    POST …/NS/NAME/settings/immutable              on/off and the rules (one RE2 per line)
    POST …/NS/NAME/settings/retention              keep-last, keep-days, keep patterns, untagged days
    GET  /u/NS/retention[?preview=1]               the namespace's policy and its preview
    POST /u/NS/retention
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from dockyard.accounts.errors import AccountError, InvalidInput
from dockyard.hub.errors import PermissionDenied
from dockyard.hub.policies import TagPolicies
from dockyard.hub.retention import Policy
from dockyard.web.context import WebRequest, page
from dockyard.web.pages.common import repository_name, repository_url
from dockyard.web.pages.settings import settings_page

RETENTION_FIELDS = ("keep_last", "keep_days", "keep", "untagged_days")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _count(text: str, label: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 6:
        raise InvalidInput(f"{label} is a whole number of zero or more")
    return int(text)


async def _typed(web: WebRequest) -> dict[str, str]:
    return {name: await web.field(name) for name in (*RETENTION_FIELDS, "action")}


def _policy(typed: dict[str, str]) -> Policy | None:
    if typed["action"] == "remove":
        return None
    return Policy(
        _count(typed["keep_last"], "Keep the newest"),
        _count(typed["keep_days"], "Keep tags pushed or pulled within"),
        tuple(_lines(typed["keep"])),
        _count(typed["untagged_days"], "Delete untagged manifests after"),
    )


def _settings_back(name: str) -> str:
    return f"{repository_url(name)}/settings/policies"


@page
async def save_immutable(web: WebRequest) -> Response:
    name = repository_name(web)
    enabled, rules = await web.field("immutable") == "on", await web.field("rules")
    try:
        await web.hub.set_immutable_tags(web.viewer, name, _lines(rules) if enabled else None)
    except AccountError as error:
        if isinstance(error, PermissionDenied):
            raise
        typed = {"immutable": "on" if enabled else "off", "rules": rules}
        return await settings_page(web, 400, tab="policies", errors={"immutable": error.message}, typed=typed)
    said = "Tags are immutable now." if enabled else "Tags may be pushed again now."
    return web.redirect(_settings_back(name), notice=said)


@page
async def save_retention(web: WebRequest) -> Response:
    name = repository_name(web)
    typed = await _typed(web)
    try:
        policy = _policy(typed)
        await TagPolicies(web.hub).set_policy(web.viewer, name, policy)
    except AccountError as error:
        if isinstance(error, PermissionDenied):
            raise
        return await settings_page(web, 400, tab="policies", errors={"retention": error.message}, typed=typed)
    said = "Retention policy removed." if policy is None else "Retention policy saved."
    return web.redirect(_settings_back(name), notice=said)


async def _namespace_page(web: WebRequest, status: int = 200, **context: Any) -> Response:
    policies = TagPolicies(web.hub)
    namespace = await policies.target(web.viewer, web.path("namespace"))
    if web.param("preview"):
        context["preview"] = await policies.preview(web.viewer, namespace, datetime.now(UTC))
    return web.render(
        "explore/retention.html",
        status=status,
        namespace=await web.hub.namespace(namespace),
        policy=await policies.retention.get(namespace),
        usage=await web.hub.namespace_quota(web.viewer, namespace),
        errors=context.pop("errors", {}),
        **context,
    )


@page
async def namespace_retention(web: WebRequest) -> Response:
    return await _namespace_page(web)


@page
async def save_namespace_retention(web: WebRequest) -> Response:
    namespace = web.path("namespace")
    typed = await _typed(web)
    try:
        policy = _policy(typed)
        await TagPolicies(web.hub).set_policy(web.viewer, namespace, policy)
    except AccountError as error:
        if isinstance(error, PermissionDenied):
            raise
        return await _namespace_page(web, 400, errors={"retention": error.message}, typed=typed)
    said = "Retention policy removed." if policy is None else "Retention policy saved."
    return web.redirect(f"/u/{namespace}/retention", notice=said)
