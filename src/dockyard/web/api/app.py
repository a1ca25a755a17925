"""The hub API as a FastAPI app: routers, error handlers, and the OpenAPI document at
``/v2/openapi.json`` (generated from the handlers' pydantic models, so it cannot drift)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from dockyard.web.api import (
    access_tokens,
    build_links,
    builds,
    collaborators,
    groups,
    immutability,
    namespaces,
    orgs,
    proxies,
    quotas,
    repositories,
    search,
    tags,
    users,
    webhooks,
)
from dockyard.web.api.deps import Context
from dockyard.web.api.errors import install_handlers

OPENAPI_URL = "/v2/openapi.json"
DESCRIPTION = """\
Docker Hub's JSON API as Dockyard serves it: what hub-tool and scripts written for Docker Hub call.

Authenticate with `POST /v2/users/login` (password or personal access token), then send
`Authorization: Bearer <token>`. Without it you act anonymously and see public repositories only;
a private repository you may not pull answers 404, exactly like a missing one. Errors are
`{"message": "...", "errinfo": {...}, "detail": "..."}` (Docker Hub's shape, with the older
`detail` beside it); bad input is 400 with `errinfo` naming each field, other errors name the
path's parameters there.

The build endpoints (`/api/build/...`) take HTTP Basic credentials (a password or a personal
access token) instead, as the scripts and CI jobs that call them always have; the webhooks and
trigger URLs authenticate by the link's secret.
"""
ROUTERS = (
    users.router,
    repositories.router,
    tags.router,
    namespaces.router,
    orgs.router,
    groups.router,
    collaborators.router,
    search.router,
    access_tokens.router,
    webhooks.router,
    builds.router,
    build_links.router,
    immutability.router,
    quotas.router,
    proxies.router,
)


def build_api(context: Context) -> FastAPI:
    api = FastAPI(
        title="Dockyard Hub API",
        version="2",
        description=DESCRIPTION,
        openapi_url=OPENAPI_URL,
        docs_url=None,  # the Swagger UI loads its assets from a CDN; the document is enough
        redoc_url=None,
    )
    install_handlers(api)
    for router in ROUTERS:
        api.include_router(router)
    api.state.context = context

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = _without_422(
                get_openapi(
                    title=api.title, version=api.version, description=api.description, routes=api.routes
                )
            )
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    return api


def _without_422(document: dict[str, Any]) -> dict[str, Any]:
    """Bad input is 400 here (as on Docker Hub), not FastAPI's 422: drop what FastAPI adds for it."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document
