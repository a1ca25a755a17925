"""Every storage backend runs the same conformance suite: the folder, and a real S3 store.

Each test gets a driver on an empty root of its own (a temp folder; a key prefix in the session's
bucket), and teardown asserts the test left nothing behind in it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from dockyard.storage import StorageDriver, create_driver
from tests.storage.s3store import driver_options, new_bucket_name, remove_bucket, s3_environment

MiB = 1024 * 1024
# Small parts (S3's minimum) keep the multipart tests quick; listing pages of 3 keys make every
# listing in the suite span several pages.
PART_SIZE = 5 * MiB
PAGE_SIZE = 3

Factory = Callable[[], StorageDriver]


@pytest.fixture(scope="session")
def s3_bucket() -> Iterator[tuple[dict[str, str], str]]:
    env = s3_environment()
    bucket = new_bucket_name()
    yield env, bucket
    remove_bucket(env, bucket)


def _filesystem(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    return lambda: create_driver("filesystem", root=tmp_path / "storage")


def _s3(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    env, bucket = request.getfixturevalue("s3_bucket")
    options = driver_options(
        env, bucket, prefix=f"t-{uuid.uuid4().hex}", part_size=PART_SIZE, page_size=PAGE_SIZE,
        scratch_dir=tmp_path,
    )  # fmt: skip
    return lambda: create_driver("s3", **options)


BACKENDS = {"filesystem": _filesystem, "s3": _s3}


@pytest.fixture(params=sorted(BACKENDS))
def driver_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    """Makes drivers on the same root: a second one stands for another process or replica."""
    return BACKENDS[request.param](request, tmp_path)


@pytest.fixture
async def driver(driver_factory: Factory) -> AsyncIterator[StorageDriver]:
    backend = driver_factory()
    yield backend
    leftovers = [info.path async for info in backend.walk("")]
    assert leftovers == [], f"{backend.name} left {leftovers}"
