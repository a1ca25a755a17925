"""The build API's JSON shapes, for the OpenAPI document.

The handlers answer the builds domain's own JSON (``BuildInfo.as_json``, the link as
``builds.py`` writes it) exactly as before the endpoints moved into this app, so hooks, trigger
URLs and scripts see the same bodies; these models describe those bodies (schemathesis checks
live answers against them). Request bodies are read by the handlers themselves (a hook's
signature covers the raw bytes; a trigger's body may be empty), so they are documented through
``request_body`` rather than parsed by FastAPI.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

State = Literal["queued", "building", "pushing", "success", "failed", "canceled"]


class Build(BaseModel):
    id: int
    link_id: int
    repository: str
    trigger: str
    source_type: str
    source_ref: str
    commit: str
    commit_message: str
    tags: list[str]
    dockerfile: str
    context: str
    state: State
    attempts: int
    digest: str | None
    error: str | None = Field(description="why the build failed (a build's, not the request's, error)")
    queued_at: str
    started_at: str | None
    pushing_at: str | None
    finished_at: str | None


class BuildHistory(BaseModel):
    repository: str
    builds: list[Build]


class Queued(BaseModel):
    builds: list[Build]


class HookAnswer(BaseModel):
    """What a GitHub or GitLab hook is told: the builds queued, or why there are none."""

    ok: bool
    builds: list[Build] = []
    event: str | None = None
    ignored: str | None = None
    reason: str | None = None


class LogLine(BaseModel):
    seq: int
    text: str


class Log(BaseModel):
    build: int
    state: State
    lines: list[LogLine]


class Variable(BaseModel):
    name: str
    value: str = Field(description="a secret's value is masked")
    secret: bool = False
    kind: Literal["arg", "env"] = "arg"


class Rule(BaseModel):
    source_type: Literal["branch", "tag"] = "branch"
    source_name: str = Field("main", description="a branch or tag name, or /regex/")
    docker_tag: str = "latest"
    dockerfile: str = "Dockerfile"
    context: str = "."
    autobuild: bool = True
    build_cache: bool = True
    variables: list[Variable] = []


class Link(BaseModel):
    id: int
    repository: str
    source_url: str
    created_by: str | None
    created_at: str
    github_webhook: str
    gitlab_webhook: str
    rules: list[Rule]


class NewLink(Link):
    """The answer to a new link: its webhook secret and trigger URL, shown this once."""

    webhook_secret: str
    trigger_url: str


# -- request bodies (documentation only) --------------------------------------------------------------


class TriggerRequest(BaseModel):
    """``{}`` builds every literal rule's ref; ``{"source_type", "source_name"}`` one ref;
    ``{"docker_tag"}`` the rules that push that tag."""

    model_config = ConfigDict(extra="forbid")

    source_type: Literal["branch", "tag"] | None = None
    source_name: str | None = None
    docker_tag: str | None = None


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_url: str = Field(description="a git URL (https://, git://, ssh://)")
    rules: list[dict[str, Any]] = Field([], description="build rules (the Rule shape)")
    credentials: dict[str, str] | None = Field(None, description="username, password or ssh_key")


def request_body(schema: dict[str, Any], description: str, *, required: bool = False) -> dict[str, Any]:
    """``openapi_extra`` for a JSON body the handler reads itself."""
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": required, "content": content, "description": description}}


TRIGGER_BODY = request_body(TriggerRequest.model_json_schema(), "what to build (empty: every literal rule)")
LINK_BODY = request_body(LinkRequest.model_json_schema(), "the source and its rules", required=True)
PUSH_EVENT = request_body({"type": "object"}, "the provider's push event, as signed", required=True)
