"""The policies tab of a repository's settings (settings.py renders it; policies.py posts)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dockyard.hub.policies import TagPolicies
from dockyard.hub.records import RepositoryDetail
from dockyard.web.context import WebRequest


async def policies_context(web: WebRequest, detail: RepositoryDetail) -> dict[str, Any]:
    """What the settings page's policies tab shows (settings.py renders it)."""
    policies = TagPolicies(web.hub)
    own = await policies.policy(web.viewer, detail.name)
    namespace = detail.name.split("/", 1)[0]
    inherited = None if own is not None else await policies.retention.get(namespace)
    context: dict[str, Any] = {
        "immutable_rules": await web.hub.immutable_tags(web.viewer, detail.name),
        "policy": own,
        "inherited": inherited,
        "namespace": namespace,
    }
    if web.param("preview"):
        context["preview"] = await policies.preview(web.viewer, detail.name, datetime.now(UTC))
    return context
