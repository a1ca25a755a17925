from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dockyard.db.engine import Database
from dockyard.registry.store import MetadataStore
from dockyard.registry.uploads import UploadService
from dockyard.storage import create_driver

pytestmark = pytest.mark.anyio


async def body(*chunks: bytes):  # type: ignore[no-untyped-def]
    for chunk in chunks:
        yield chunk


async def test_purge_removes_only_stale_sessions(tmp_path: Path, database: Database) -> None:
    storage = create_driver("filesystem", root=tmp_path / "storage")
    uploads = UploadService(storage, MetadataStore(database))
    old = await uploads.start("library/a")
    await uploads.append("library/a", old.id, body(b"abc"))
    fresh = await uploads.start("library/a")
    hour_ago = time.time() - 3600
    os.utime(tmp_path / "storage" / "uploads" / old.id / "data", (hour_ago, hour_ago))

    assert await uploads.purge_stale(600) == 1

    assert (await uploads.status("library/a", fresh.id)).offset == 0
    assert not (tmp_path / "storage" / "uploads" / old.id).exists()
