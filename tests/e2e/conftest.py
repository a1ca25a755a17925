"""End-to-end fixtures: one server per test module, and unique names so runs never collide."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import DockyardServer


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockyardServer]:
    """A server for one test module: tests in the module share it, each with repositories of its own."""
    with DockyardServer(tmp_path_factory.mktemp("dockyard-e2e") / "data") as server:
        yield server


@pytest.fixture
def unique() -> str:
    """A short token that makes names and file contents unique to this test."""
    return uuid.uuid4().hex[:10]
