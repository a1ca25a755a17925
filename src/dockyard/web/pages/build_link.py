"""The build link section of a repository's settings page: the link's rules as form rows and its
webhook URLs. Its own module so that the settings page (which shows it) and the builds pages
(whose forms post it) both import it, and neither imports the other's handlers back.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.builds.context import BuildsContext
from dockyard.builds.errors import NotFound as NoBuild
from dockyard.builds.records import Link
from dockyard.web.context import WebRequest

RULE_FIELDS = ("source_type", "source_name", "docker_tag", "dockerfile", "context", "autobuild")
BLANK_RULE = {"source_type": "branch", "source_name": "", "docker_tag": "", "dockerfile": "Dockerfile",
              "context": ".", "autobuild": "on"}  # fmt: skip
MAX_RULES = 20


@dataclass(frozen=True, slots=True)
class BuildLinkView:
    """What the settings page shows of a link: its rules as form rows and its webhook URLs."""

    link: Link | None
    rows: list[dict[str, str]]
    github_webhook: str
    gitlab_webhook: str


def builds_of(web: WebRequest) -> BuildsContext:
    ctx: BuildsContext = web.request.app.state.builds
    return ctx


def base_url(web: WebRequest) -> str:
    return str(web.request.base_url).rstrip("/")


async def link_or_none(web: WebRequest, name: str) -> Link | None:
    try:
        return await builds_of(web).service.link_for(name)
    except NoBuild:
        return None


def _rows(link: Link | None) -> list[dict[str, str]]:
    rows = [
        {
            "source_type": r.source_type, "source_name": r.source_name, "docker_tag": r.docker_tag,
            "dockerfile": r.dockerfile, "context": r.context, "autobuild": "on" if r.autobuild else "off",
        }
        for r in (link.rules if link else ())
    ]  # fmt: skip
    return [*rows, dict(BLANK_RULE)]


async def link_view(web: WebRequest, name: str, rows: list[dict[str, str]] | None = None) -> BuildLinkView:
    """The build link section of the settings page (rows: what was typed, after an error)."""
    link = await link_or_none(web, name)
    base = f"{base_url(web)}/api/build/hooks/{link.id if link else 0}"
    return BuildLinkView(link, rows or _rows(link), f"{base}/github", f"{base}/gitlab")
