"""Typed records the builds domain hands out; ORM rows stay inside service.py and queue.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from dockyard.builds.rules import Rule, Variable

State = Literal["queued", "building", "pushing", "success", "failed", "canceled"]
ACTIVE: tuple[State, ...] = ("building", "pushing")
FINISHED: tuple[State, ...] = ("success", "failed", "canceled")


@dataclass(frozen=True, slots=True)
class Link:
    """A repository's source link as anyone who may read the repository sees it: ``source_url``
    is the public form (source_secrets.public_url), credentials are not here at all."""

    id: int
    repository: str
    source_url: str
    created_by: str | None
    created_at: datetime
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class LinkSource:
    """Where the server itself fetches a link's refs from: never rendered, never answered."""

    url: str
    credentials: dict[str, str]


@dataclass(frozen=True, slots=True)
class NewLink:
    """A link just made: the only time its webhook secret and trigger token are shown whole."""

    link: Link
    webhook_secret: str
    trigger_token: str


@dataclass(frozen=True, slots=True)
class BuildInfo:
    id: int
    link_id: int
    repository: str
    trigger: str
    source_type: str
    source_ref: str
    commit: str
    commit_message: str
    tags: tuple[str, ...]
    dockerfile: str
    context: str
    state: State
    attempts: int
    digest: str | None
    error: str | None
    queued_at: datetime
    started_at: datetime | None
    pushing_at: datetime | None
    finished_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__slots__}
        data["tags"] = list(self.tags)
        for name in ("queued_at", "started_at", "pushing_at", "finished_at"):
            data[name] = data[name].isoformat() if data[name] else None
        return data


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed build with everything the runner needs, secrets decrypted."""

    build: BuildInfo
    source_url: str
    credentials: dict[str, str]
    build_cache: bool
    variables: tuple[Variable, ...]
    owner: str  # who holds the lease
    created_by: str | None


@dataclass(frozen=True, slots=True)
class LogLine:
    seq: int
    at: datetime
    text: str
