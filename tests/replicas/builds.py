"""Builds queued on a database, for the claim race of test_topology (what `dockyard build trigger`
would queue; the jobs are never run)."""

from __future__ import annotations

from pathlib import Path

import anyio

from dockyard.builds.rules import Rule, matches
from dockyard.builds.secrets import SecretBox
from dockyard.builds.service import BuildService
from dockyard.db.engine import make_database

COMMIT = "a" * 40


def queue_builds(database_url: str, secrets_key: Path, count: int) -> list[int]:
    database = make_database(database_url)
    service = BuildService(database, SecretBox.load(secrets_key), queue_limit=count)

    async def work() -> list[int]:
        made = await service.create_link("topology/built", "https://git.example.com/src.git", [Rule()])
        link, ids = made.link, list[int]()
        for _ in range(count):
            builds = await service.enqueue(
                link, matches(link.rules, "branch", "main"), trigger="manual", source_type="branch",
                ref="main", commit=COMMIT,
            )  # fmt: skip
            ids.extend(build.id for build in builds)
        return ids

    try:
        return anyio.run(work)
    finally:
        database.dispose()
