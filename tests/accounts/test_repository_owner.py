"""The repository row has one owner, the registry (issue 10): what the accounts read of it and the
namespace default the registry needs of the accounts cross between them through named functions.
These check the answers that changed shape in the move: the default asked only when a repository
is created, team permissions in order, collaborator counts, the build queue's depth."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from dockyard.accounts import readmodels as account_reads
from dockyard.accounts.records import Principal
from dockyard.accounts.service import AccountService
from dockyard.builds import readmodels as build_reads
from dockyard.builds.models import Build, BuildLink
from dockyard.db.engine import Database
from dockyard.registry.store import MetadataStore
from tests.accounts.conftest import PASSWORD

pytestmark = pytest.mark.anyio
DIGEST = "sha256:" + "a" * 64


async def test_the_registry_asks_the_namespace_default_only_when_it_creates(
    accounts: AccountService, database: Database, alice: Principal
) -> None:
    """The store reads no namespace itself: the composition root's callable answers, once per new
    repository, and a push into an existing one asks nothing (the hot path stays one lookup)."""
    asked: list[str] = []

    def default_private(conn: Connection, namespace: str) -> bool:
        asked.append(namespace)
        return account_reads.default_private(conn, namespace)

    store = MetadataStore(database, default_private=default_private)
    await accounts.set_default_private("alice", True)
    await store.link_blob("alice/app", DIGEST, 3)
    await store.link_blob("alice/app", DIGEST, 3)
    await store.ensure_repository("alice/app")
    await store.ensure_repository("library/tools")
    assert asked == ["alice", "library"]
    assert (await accounts.get_repository("alice/app")).is_private  # type: ignore[union-attr]
    assert not (await accounts.get_repository("library/tools")).is_private  # type: ignore[union-attr]


async def test_a_namespace_default_follows_the_namespace_row(
    accounts: AccountService, database: Database, alice: Principal
) -> None:
    await accounts.create_org("acme", "alice")
    await accounts.set_default_private("acme", True)
    with database.read.connect() as conn:
        assert account_reads.default_private(conn, "acme") is True
        assert account_reads.default_private(conn, "alice") is False
        assert account_reads.default_private(conn, "nobody") is False  # an open registry's namespace


async def test_team_permissions_list_by_team_then_repository(
    accounts: AccountService, alice: Principal
) -> None:
    await accounts.create_org("acme", "alice")
    for team in ("writers", "readers"):
        await accounts.create_team("acme", team)
    for name in ("acme/zeta", "acme/alpha", "acme/mid"):
        await accounts.create_repository(name)
    for team, repository in (
        ("writers", "acme/zeta"),
        ("readers", "acme/mid"),
        ("writers", "acme/alpha"),
        ("readers", "acme/zeta"),
    ):
        await accounts.set_team_permission("acme", team, repository, "read")
    listed = [(p.team, p.repository) for p in await accounts.list_team_permissions("acme")]
    assert listed == [
        ("readers", "acme/mid"),
        ("readers", "acme/zeta"),
        ("writers", "acme/alpha"),
        ("writers", "acme/zeta"),
    ]
    only = await accounts.list_team_permissions("acme", "writers")
    assert [p.repository for p in only] == ["acme/alpha", "acme/zeta"]


async def test_collaborator_counts_per_existing_repository(
    accounts: AccountService, alice: Principal
) -> None:
    for name in ("bobby", "carol"):
        await accounts.create_user(name, "", PASSWORD)
    await accounts.create_repository("alice/shared")
    await accounts.create_repository("alice/alone")
    await accounts.set_collaborator("alice/shared", "bobby", "read")
    await accounts.set_collaborator("alice/shared", "carol", "write")
    counts = await accounts.collaborator_counts(["alice/shared", "alice/alone", "alice/missing"])
    assert counts == {"alice/shared": 2, "alice/alone": 0}
    listed = await accounts.list_collaborators("alice/shared")
    assert [(c.repository, c.username, c.permission) for c in listed] == [
        ("alice/shared", "bobby", "read"),
        ("alice/shared", "carol", "write"),
    ]


def test_the_build_queue_depth_counts_queued_builds_only(database: Database) -> None:
    with Session(database.write) as session, session.begin():
        link = BuildLink(repository="alice/app", source_url="https://git.example/app", webhook_secret=b"s")
        link.trigger_token_hash = "0" * 64
        session.add(link)
        session.flush()
        for state in ("queued", "queued", "building", "success"):
            session.add(
                Build(
                    link_id=link.id,
                    repository="alice/app",
                    trigger="manual",
                    source_type="branch",
                    source_ref="main",
                    commit="0" * 40,
                    tags=["latest"],
                    dockerfile="Dockerfile",
                    context=".",
                    state=state,
                )
            )
    with database.read.connect() as conn:
        assert build_reads.queued_count(conn) == 2
