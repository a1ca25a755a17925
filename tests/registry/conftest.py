"""Fixtures for the registry protocol suite: the open registry in process, shared by the folder.

    registry_app     (package)   ``create_app`` in this process (tests/inprocess.py) on a data folder
                                 of its own, its database copied from the session's template
    fresh_registry   (function)  the same with an empty data folder of the test's own
    client                       an httpx.Client on ``registry_app``
    wire_client                  an httpx.Client on the session's real ``dockyard serve``
                                 (``dockyard``, tests/conftest.py): for the e2e tests in this folder
    repo                         a repository name no other test uses

Tests use repository names of their own, so one registry serves them all (as one session server
did before). What only a real
server shows (the bytes on the wire, dropped connections, a crash) is tested against ``dockyard
serve`` in ``test_real_server.py``; each of those tests is marked e2e.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import OPEN_REGISTRY, DockyardServer
from tests.inprocess import InProcessDockyard
from tests.registry.helpers import unique_repo


@pytest.fixture(scope="package")
def registry_app(
    tmp_path_factory: pytest.TempPathFactory, template_database: Path
) -> Iterator[InProcessDockyard]:
    data = tmp_path_factory.mktemp("registry") / "data"
    with InProcessDockyard(data, OPEN_REGISTRY, template=template_database) as app:
        yield app


@pytest.fixture
def fresh_registry(tmp_path: Path, template_database: Path) -> Iterator[InProcessDockyard]:
    """An open registry in process with an empty data folder of its own."""
    with InProcessDockyard(tmp_path / "data", OPEN_REGISTRY, template=template_database) as app:
        yield app


@pytest.fixture
def client(registry_app: InProcessDockyard) -> Iterator[httpx.Client]:
    with registry_app.client(follow_redirects=False) as http:
        yield http


@pytest.fixture
def wire_client(dockyard: DockyardServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dockyard.url, timeout=30, follow_redirects=False) as http:
        yield http


@pytest.fixture
def repo() -> str:
    """A repository name no other test uses, so the registry can be shared."""
    return unique_repo()
