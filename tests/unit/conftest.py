from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from dockyard.storage import StorageDriver, create_driver


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# Every storage backend runs the same conformance suite: add a backend here.
BACKENDS: dict[str, Callable[[Path], StorageDriver]] = {
    "filesystem": lambda tmp: create_driver("filesystem", root=tmp / "storage"),
}


@pytest.fixture(params=sorted(BACKENDS))
async def driver(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StorageDriver]:
    backend = BACKENDS[request.param](tmp_path)
    yield backend
    # Teardown: every test cleans up after itself, so nothing may be left behind.
    for top in ("blobs", "uploads", "t"):
        try:
            leftovers = await backend.list(top)
        except Exception:
            continue
        assert leftovers == [], f"{request.param} left {leftovers}"
