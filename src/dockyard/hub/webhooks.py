"""Webhook payloads, in Docker Hub's shape, so receivers written for Docker Hub work unchanged.

    {"callback_url": ..., "push_data": {"pushed_at": 1700000000, "pusher": "alice", "tag": "latest",
     "images": []}, "repository": {"comment_count": 0, "date_created": 1690000000, "description": ...,
     "full_description": ..., "is_official": false, "is_private": false, "is_trusted": false,
     "name": "app", "namespace": "alice", "owner": "alice", "repo_name": "alice/app",
     "repo_url": "https://hub.example.com/r/alice/app", "star_count": 3, "status": "Active"}}

Deliveries are rows of ``webhook_deliveries`` (hub/models.py), queued in the same transaction that
records the push; a delivery worker drains them (signing each body with the webhook's secret).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from dockyard.hub.errors import InvalidInput

MAX_URL = 2000
MAX_NAME = 100


def repo_url(base_url: str, repository: str) -> str:
    namespace, name = repository.split("/", 1)
    if namespace == "library":
        return f"{base_url}/_/{name}"
    return f"{base_url}/r/{repository}"


def push_payload(
    *,
    base_url: str,
    webhook_id: int,
    repository: str,
    tag: str,
    pusher: str | None,
    pushed_at: datetime,
    created_at: datetime,
    description: str,
    full_description: str,
    is_private: bool,
    star_count: int,
) -> dict[str, Any]:
    return {
        "callback_url": f"{base_url}/r/{repository}/hook/{webhook_id}",
        "push_data": {
            "pushed_at": int(pushed_at.timestamp()),
            "pusher": pusher or "",
            "tag": tag,
            "images": [],
        },
        "repository": repository_data(
            base_url=base_url,
            repository=repository,
            created_at=created_at,
            description=description,
            full_description=full_description,
            is_private=is_private,
            star_count=star_count,
        ),
    }


def build_payload(
    *, base_url: str, webhook_id: int, event: str, build: dict[str, Any], repository: dict[str, Any]
) -> dict[str, Any]:
    """A build event (build_started, build_succeeded, build_failed, build_canceled) in the push
    payload's spirit: ``build_data`` in place of ``push_data``, the same ``repository`` block.

        "build_data": {"event": "build_succeeded", "id": 7, "state": "success", "trigger": "github",
                       "source_type": "branch", "source_ref": "main", "commit": "…",
                       "commit_message": "…", "tags": ["latest"], "digest": "sha256:…",
                       "error": null, "queued_at": …, "started_at": …, "finished_at": …,
                       "build_url": "https://hub.example.com/r/alice/app/builds/7"}
    """
    fields = ("id", "state", "trigger", "source_type", "source_ref", "commit", "commit_message",
              "tags", "digest", "error", "queued_at", "started_at", "finished_at")  # fmt: skip
    data = {"event": event, **{name: build.get(name) for name in fields}}
    for name in ("queued_at", "started_at", "finished_at"):
        stamp = data[name]
        data[name] = int(stamp.timestamp()) if isinstance(stamp, datetime) else stamp
    data["tags"] = list(data["tags"] or [])
    data["build_url"] = f"{repo_url(base_url, repository['repo_name'])}/builds/{build['id']}"
    return {
        "callback_url": f"{base_url}/r/{repository['repo_name']}/hook/{webhook_id}",
        "build_data": data,
        "repository": repository,
    }


def repository_data(
    *,
    base_url: str,
    repository: str,
    created_at: datetime,
    description: str,
    full_description: str,
    is_private: bool,
    star_count: int,
) -> dict[str, Any]:
    """The ``repository`` block every payload carries, as Docker Hub's."""
    namespace, name = repository.split("/", 1)
    return {
        "comment_count": 0,
        "date_created": int(created_at.timestamp()),
        "description": description,
        "full_description": full_description,
        "is_official": namespace == "library",
        "is_private": is_private,
        "is_trusted": False,
        "name": name,
        "namespace": namespace,
        "owner": namespace,
        "repo_name": repository,
        "repo_url": repo_url(base_url, repository),
        "star_count": star_count,
        "status": "Active",
    }


def validate_webhook(name: str, url: str) -> tuple[str, str]:
    """A webhook's name and URL, stripped, or InvalidInput saying what is wrong."""
    name, url = name.strip(), url.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"webhook names are 1 to {MAX_NAME} characters")
    if len(url) > MAX_URL:
        raise InvalidInput(f"webhook URLs are at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidInput(f"{url!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("webhook URLs start with http:// or https:// and name a host")
    if parts.username or parts.password:
        raise InvalidInput("put no credentials in a webhook URL; the secret signs each delivery instead")
    return name, url
