"""Fixtures for the hub API suite (issue 4): one server with token auth and fast webhook retries,
populated with the real CLI; tests make repositories of their own (``unique`` names) in it.

    alice      owns her namespace and the organisation acmeorg (its owners team)
    bobby      in acmeorg's "readers" team, which holds read on acmeorg/private
    carol      nobody in particular
    danny      nobody either, for organisation and collaborator tests (erica too)
    siteadmin  a site administrator
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.access.helpers import running_world
from tests.api.helpers import FAST_WEBHOOKS, Hub

ORG = "acmeorg"
ORG_PRIVATE = f"{ORG}/private"


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory, template_database: Path) -> Iterator[Hub]:
    data = tmp_path_factory.mktemp("hub-api") / "data"
    with running_world(data, env=FAST_WEBHOOKS, template=template_database) as world:
        with world.batch() as batch:
            for name in ("alice", "bobby", "carol", "danny", "erica"):
                batch.user(name)
            batch.user("siteadmin", admin=True)
            batch.run("org", "create", ORG, "--owner", "alice")
            batch.run("team", "create", ORG, "readers")
            batch.run("team", "add-member", ORG, "readers", "bobby")
            batch.run("repo", "create", ORG_PRIVATE, "--private", "--description", "org secrets")
            batch.run("team", "grant", ORG, "readers", ORG_PRIVATE, "--permission", "read")
        hub = Hub(world)
        yield hub
        hub.close()


@pytest.fixture
def unique() -> str:
    """A short token that makes repository names unique to this test."""
    return uuid.uuid4().hex[:8]
