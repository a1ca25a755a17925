"""What the builds domain's web routes and CLI share: the service, and turning a push or a
trigger into queued builds by the link's rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from dockyard.accounts.service import AccountService
from dockyard.builds.errors import InvalidRequest, NotFound
from dockyard.builds.records import BuildInfo, Link
from dockyard.builds.rules import Match, Rule, matches
from dockyard.builds.runner import StepFailed, ls_remote
from dockyard.builds.service import BuildService
from dockyard.builds.source_secrets import hide_secrets
from dockyard.builds.triggers import Push
from dockyard.config import BuildSettings

Wanted = tuple[str, str, str, tuple[Match, ...]]  # source type, ref, commit, what it builds


@dataclass(frozen=True)
class BuildsContext:
    service: BuildService
    accounts: AccountService
    settings: BuildSettings
    work_dir: Path
    open_registry: bool

    async def queue_push(self, link_id: int, push: Push, trigger: str) -> list[BuildInfo]:
        """Builds for a pushed ref, one per matching rule (none when no rule matches)."""
        link = await self.service.link(link_id)
        found = matches(link.rules, push.source_type, push.ref)
        return await self.service.enqueue(
            link, found, trigger=trigger, source_type=push.source_type, ref=push.ref,
            commit=push.commit, message=push.message,
        )  # fmt: skip

    async def trigger(self, link_id: int, wanted: Mapping[str, Any], trigger: str) -> list[BuildInfo]:
        """Docker Hub's trigger: ``{}`` builds every literal rule's ref; ``{"source_type",
        "source_name"}`` one ref; ``{"docker_tag"}`` the rules that push that tag."""
        link = await self.service.link(link_id)
        refs = await self.refs(link)
        # A source may have thousands of tags: matching them all is work for a thread.
        chosen = await anyio.to_thread.run_sync(_wanted_refs, link.rules, refs, wanted)
        builds: list[BuildInfo] = []
        for source_type, name, commit, found in chosen:
            builds += await self.service.enqueue(
                link, found, trigger=trigger, source_type=source_type, ref=name, commit=commit,
                message=f"triggered ({trigger})",
            )  # fmt: skip
        if not builds:
            raise NotFound("no rule of this link matches the requested ref or tag")
        return builds

    async def refs(self, link: Link) -> dict[str, str]:
        source = await self.service.source(link.id)
        try:
            return await ls_remote(self.settings, self.work_dir, source.url, source.credentials)
        except StepFailed as exc:
            raise InvalidRequest(hide_secrets(str(exc), source.url, source.credentials)) from None


def _wanted_refs(rules: tuple[Rule, ...], refs: Mapping[str, str], wanted: Mapping[str, Any]) -> list[Wanted]:
    """The refs a trigger builds, each with its matches: every literal rule's ref for ``{}``, one
    ref for ``{"source_type", "source_name"}``, the rules giving ``{"docker_tag"}``."""
    wanted_type = str(wanted.get("source_type") or "").lower() or None
    wanted_name, wanted_tag = wanted.get("source_name"), wanted.get("docker_tag")
    chosen: list[Wanted] = []
    for ref, commit in refs.items():
        kind, _, name = ref.removeprefix("refs/").partition("/")
        source_type = {"heads": "branch", "tags": "tag"}.get(kind)
        if source_type is None or (wanted_type and wanted_type != source_type):
            continue
        if wanted_name is not None and name != wanted_name:
            continue
        found = tuple(
            m for m in matches(rules, source_type, name, manual=True)
            if (wanted_tag is None or wanted_tag in m.tags)
            and (wanted_name is not None or not m.rule.is_regex)
        )  # fmt: skip
        if found:
            chosen.append((source_type, name, commit, found))
    return chosen
