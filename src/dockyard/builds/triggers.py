"""Push events from GitHub and GitLab, the trigger URL's body, and what each one builds.

GitHub signs the raw body: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 with the secret>``,
compared here in constant time. GitLab sends the secret itself in ``X-Gitlab-Token``. A push
that deletes a ref (``after`` all zeros) or whose head commit says ``[skip build]`` or
``[build skip]`` builds nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.builds.errors import InvalidRequest, Unauthorized
from dockyard.builds.rules import MAX_REF

SKIP_MARKERS = ("[skip build]", "[build skip]")
NULL_COMMIT = re.compile(r"^0+$")
COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


@dataclass(frozen=True, slots=True)
class Push:
    """A pushed ref: ``source_type`` is branch or tag, ``ref`` its short name."""

    source_type: str
    ref: str
    commit: str
    message: str
    clone_url: str | None = None

    @property
    def skipped(self) -> bool:
        lowered = self.message.lower()
        return any(marker in lowered for marker in SKIP_MARKERS)


def verify_github(secret: str, body: bytes, signature: str | None) -> None:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not signature or not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise Unauthorized("bad or missing X-Hub-Signature-256")


def verify_gitlab(secret: str, token: str | None) -> None:
    if not token or not hmac.compare_digest(secret.encode(), token.encode()):
        raise Unauthorized("bad or missing X-Gitlab-Token")


def split_ref(ref: str) -> tuple[str, str]:
    """``refs/heads/main`` -> ("branch", "main"); ``refs/tags/v1`` -> ("tag", "v1")."""
    if len(ref) > MAX_REF + len("refs/heads/"):
        raise InvalidRequest(f"refs are at most {MAX_REF} characters")
    for prefix, kind in (("refs/heads/", "branch"), ("refs/tags/", "tag")):
        if ref.startswith(prefix) and len(ref) > len(prefix):
            return kind, ref[len(prefix) :]
    raise InvalidRequest(f"not a branch or tag ref: {ref[:80]!r}")


def _payload(body: bytes) -> Mapping[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        raise InvalidRequest("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise InvalidRequest("the body is not a JSON object")
    return payload


def github_push(body: bytes) -> Push | None:
    """The push a GitHub ``push`` event describes; None for a deleted ref."""
    payload = _payload(body)
    after = str(payload.get("after") or "")
    if payload.get("deleted") or NULL_COMMIT.match(after):
        return None
    head = payload.get("head_commit") or {}
    repository = payload.get("repository") or {}
    return _push(
        str(payload.get("ref") or ""),
        after,
        str(head.get("message") or "") if isinstance(head, dict) else "",
        repository.get("clone_url") if isinstance(repository, dict) else None,
    )


def gitlab_push(body: bytes) -> Push | None:
    """The push a GitLab ``Push Hook`` or ``Tag Push Hook`` describes; None for a deleted ref."""
    payload = _payload(body)
    after = str(payload.get("checkout_sha") or payload.get("after") or "")
    if NULL_COMMIT.match(after or "0"):
        return None
    commits = payload.get("commits") or []
    message = next(
        (str(c.get("message") or "") for c in commits if isinstance(c, dict) and c.get("id") == after),
        str(payload.get("message") or ""),
    )
    project = payload.get("project") or {}
    return _push(
        str(payload.get("ref") or ""),
        after,
        message,
        project.get("git_http_url") if isinstance(project, dict) else None,
    )


def _push(ref: str, commit: str, message: str, clone_url: Any) -> Push:
    source_type, name = split_ref(ref)
    if not COMMIT.match(commit):
        raise InvalidRequest(f"not a commit id: {commit!r}")
    return Push(source_type, name, commit, message, clone_url if isinstance(clone_url, str) else None)
