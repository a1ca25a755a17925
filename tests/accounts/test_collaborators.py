"""Collaborators on personal repositories: who may be one, where, what changes leave in the audit
log, and that nothing of a deleted repository's sharing survives into one created again."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from dockyard.accounts.errors import InvalidInput, NotFound
from dockyard.accounts.service import AccountService
from dockyard.registry.store import repositories
from tests.accounts.conftest import World

pytestmark = pytest.mark.anyio


async def test_list_set_and_remove(world: World, accounts: AccountService) -> None:
    listed = await accounts.list_collaborators("alice/private")
    assert [(c.username, c.permission) for c in listed] == [
        ("gina", "read"),
        ("hank", "write"),
        ("ivan", "admin"),
    ]
    changed = await accounts.set_collaborator("alice/private", "gina", "admin", actor="alice")
    assert (changed.username, changed.permission, changed.repository) == ("gina", "admin", "alice/private")
    assert (await accounts.get_collaborator("alice/private", "gina")).permission == "admin"
    await accounts.remove_collaborator("alice/private", "gina", actor="alice")
    with pytest.raises(NotFound):
        await accounts.get_collaborator("alice/private", "gina")
    with pytest.raises(NotFound):
        await accounts.remove_collaborator("alice/private", "gina")
    events = await accounts.list_events(2)
    assert [(e.kind, e.actor, e.target, e.detail) for e in events] == [
        ("collaborator.changed", "alice", "alice/private", {"user": "gina", "permission": None}),
        (
            "collaborator.changed",
            "alice",
            "alice/private",
            {"user": "gina", "permission": "admin", "previous": "read"},
        ),
    ]


async def test_counts(world: World, accounts: AccountService) -> None:
    counts = await accounts.collaborator_counts(["alice/private", "alice/public", "acme/private", "no/such"])
    assert counts == {"alice/private": 3, "alice/public": 1, "acme/private": 0}


@pytest.mark.parametrize(
    ("repository", "user", "permission", "error"),
    [
        ("acme/private", "gina", "read", InvalidInput),  # organisations share through teams
        ("library/busybox", "gina", "read", InvalidInput),  # official images: administrators
        ("alice/private", "alice", "read", InvalidInput),  # the owner
        ("alice/private", "gina", "owner", InvalidInput),
        ("alice/private", "nosuchuser", "read", NotFound),
        ("alice/missing", "gina", "read", NotFound),
    ],
)
async def test_refusals(
    world: World,
    accounts: AccountService,
    repository: str,
    user: str,
    permission: str,
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        await accounts.set_collaborator(repository, user, permission)


async def test_a_repository_created_again_is_not_shared(world: World, accounts: AccountService) -> None:
    with accounts.db.write.begin() as conn:
        conn.execute(delete(repositories).where(repositories.c.name == "alice/private"))
    await accounts.create_repository("alice/private", private=True)
    assert await accounts.list_collaborators("alice/private") == []
    for user in ("gina", "hank", "ivan"):
        assert await accounts.repository_actions(world.principals[user], "alice/private") == frozenset()


async def test_deleting_a_collaborator_account(world: World, accounts: AccountService) -> None:
    await accounts.delete_user("hank")
    assert [c.username for c in await accounts.list_collaborators("alice/private")] == ["gina", "ivan"]
