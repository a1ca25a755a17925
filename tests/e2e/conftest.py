"""End-to-end fixtures: one server per test module, and unique names so runs never collide."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import OPEN_REGISTRY, DockyardServer


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, template_database: Path) -> Iterator[DockyardServer]:
    """An open server for one test module (the clients' registry behaviour; tests/access/ covers
    the same clients with docker login): tests in the module share it, with repositories of their own."""
    data = tmp_path_factory.mktemp("dockyard-e2e") / "data"
    with DockyardServer(data, env=OPEN_REGISTRY, template=template_database) as server:
        yield server


@pytest.fixture
def unique() -> str:
    """A short token that makes names and file contents unique to this test."""
    return uuid.uuid4().hex[:10]
