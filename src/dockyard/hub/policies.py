"""Who may see and change a repository's or a namespace's tag policies (immutable tags,
retention), for the web pages and the JSON API.

    repository target   "NS/NAME": administrators of the repository (its settings page)
    namespace target    "NS": who may create repositories in it (the user, the organisation's
                        owners, site administrators), as ``writable_namespaces`` says

A target the viewer may not administer is NotFound when they cannot see it, PermissionDenied
otherwise; the retention preview is exactly ``Retention.plan`` for the target.
"""

from __future__ import annotations

from datetime import datetime

from dockyard.accounts.records import Principal
from dockyard.hub.errors import NotFound, PermissionDenied
from dockyard.hub.retention import Doomed, Policy, Retention
from dockyard.hub.service import HubService


class TagPolicies:
    def __init__(self, hub: HubService) -> None:
        self.hub = hub
        self.retention = Retention(hub.db, hub.registry, hub.accounts)

    async def target(self, viewer: Principal | None, target: str) -> str:
        """The canonical target when the viewer may administer its policies."""
        if "/" in target:
            detail = await self.hub.repository(viewer, target)
            if not detail.can_admin:
                raise PermissionDenied("only administrators of this repository change its policies")
            return detail.name
        if viewer is None:
            raise PermissionDenied("log in to do this")
        if target not in await self.hub.writable_namespaces(viewer):
            raise NotFound(f"no namespace {target!r} whose policies you may change")
        return target

    async def policy(self, viewer: Principal | None, target: str) -> Policy | None:
        return await self.retention.get(await self.target(viewer, target))

    async def set_policy(self, viewer: Principal | None, target: str, policy: Policy | None) -> None:
        target = await self.target(viewer, target)
        await self.retention.set(target, policy, actor=viewer.username if viewer else None)

    async def preview(self, viewer: Principal | None, target: str, now: datetime) -> list[Doomed]:
        return await self.retention.plan(now, await self.target(viewer, target))
