"""A repository's source link and its build rules, in the JSON API (the rest of the build
endpoints are in builds.py).

    GET    /api/build/repositories/{name}/link   the link as anyone who may read the repository sees it
    PUT    /api/build/repositories/{name}/link   link or relink (the repository's admin); the answer
                                                 holds the webhook secret and trigger URL, once
    DELETE /api/build/repositories/{name}/link   unlink

Credentials are never answered; secret variables are masked.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from dockyard.builds.access import repository_name
from dockyard.builds.errors import InvalidRequest
from dockyard.builds.records import Link
from dockyard.builds.rules import Rule, RuleError, Variable
from dockyard.builds.runner import MASK
from dockyard.web.api import build_schemas as schemas
from dockyard.web.api.build_access import BASIC, may
from dockyard.web.api.builds import ERRORS, Name, builds_context, json_object

router = APIRouter(prefix="/api/build", tags=["builds"])

CREDENTIAL_FIELDS = frozenset({"username", "password", "ssh_key"})


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


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _link_json(link: Link, request: Request) -> dict[str, Any]:
    """A link as anyone who may read the repository sees it: no credentials, secrets masked."""
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
        "github_webhook": f"{_base(request)}/api/build/hooks/{link.id}/github",
        "gitlab_webhook": f"{_base(request)}/api/build/hooks/{link.id}/gitlab",
        "rules": rules,
    }


LINK = "/repositories/{name:path}/link"


@router.get(LINK, response_model=schemas.Link, responses=ERRORS, dependencies=BASIC)
async def show_link(name: Name, request: Request) -> Response:
    repository = repository_name(name)
    await may(request, repository, "read")
    return JSONResponse(_link_json(await builds_context(request).service.link_for(repository), request))


@router.put(
    LINK,
    response_model=schemas.NewLink,
    status_code=201,
    responses=ERRORS,
    dependencies=BASIC,
    openapi_extra=schemas.LINK_BODY,
)
async def put_link(name: Name, request: Request) -> Response:
    """A new link; its webhook secret and trigger URL are shown in this answer only."""
    ctx, repository = builds_context(request), repository_name(name)
    principal = await may(request, repository, "admin")
    body = json_object(await request.body())
    if not isinstance(body.get("source_url"), str):
        raise InvalidRequest('the body needs "source_url"')
    made = await ctx.service.create_link(
        repository,
        body["source_url"],
        _rules(body.get("rules", [])),
        credentials=_credentials(body.get("credentials")),
        created_by=principal.username if principal else None,
    )
    answer = _link_json(made.link, request)
    answer["webhook_secret"] = made.webhook_secret
    answer["trigger_url"] = f"{_base(request)}/api/build/trigger/{made.link.id}/{made.trigger_token}"
    return JSONResponse(answer, status_code=201)


@router.delete(
    LINK,
    status_code=204,
    response_class=Response,
    responses=ERRORS,
    dependencies=BASIC,
)
async def delete_link(name: Name, request: Request) -> Response:
    repository = repository_name(name)
    principal = await may(request, repository, "admin")
    await builds_context(request).service.unlink(repository, actor=principal.username if principal else None)
    return Response(status_code=204)
