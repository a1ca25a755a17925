"""The build queue tells its events hook (the hub's build webhooks in a server) about each move
to building and to a finished state, in the transaction that makes the move; requeues are silent."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy.engine import Connection

from dockyard.builds.queue import BuildQueue
from dockyard.builds.rules import matches
from dockyard.builds.secrets import SecretBox
from dockyard.builds.service import BuildService
from dockyard.db.engine import Database
from tests.clock import FakeClock

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_claims_finishes_and_lost_workers_are_reported(tmp_path: Path, database: Database) -> None:
    box, clock = SecretBox.from_data_dir(tmp_path), FakeClock()
    seen: list[tuple[int, str]] = []

    def events(conn: Connection, build: Mapping[str, Any]) -> int:
        assert conn is not None
        seen.append((build["id"], build["state"]))
        return 1

    service = BuildService(database, box, queue_limit=5)
    queue = BuildQueue(database, box, lease_seconds=1, max_attempts=1, events=events, clock=clock)

    async def work() -> None:
        link = (await service.create_link("acme/app", "git://git.example.com/src.git")).link
        for _ in range(2):
            await service.enqueue(
                link, matches(link.rules, "branch", "main"), trigger="manual", source_type="branch",
                ref="main", commit=COMMIT,
            )  # fmt: skip
        done, lost = await queue.claim("w1"), await queue.claim("w2")
        assert done is not None and lost is not None
        await queue.advance(done.build.id, "w1", "pushing")
        await queue.advance(done.build.id, "w1", "success", digest="sha256:" + "0" * 64)
        assert await queue.reap() == 0  # w2's lease still runs
        clock.advance(1.3)
        assert await queue.reap() == 1
        assert seen == [
            (done.build.id, "building"), (lost.build.id, "building"),
            (done.build.id, "success"), (lost.build.id, "failed"),
        ]  # fmt: skip

    anyio.run(work)
