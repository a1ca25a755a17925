"""The accounts service's side of issue 9: credentials versions, disabling, deleting, creation limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dockyard.accounts import limits
from dockyard.accounts.errors import AlreadyExists, Conflict, NotFound, QuotaExceeded, RateLimited
from dockyard.accounts.limits import CreationLimits, Window
from dockyard.accounts.records import Principal
from dockyard.accounts.service import AccountService
from dockyard.auth.standing import Standing
from dockyard.db.engine import Database
from tests.accounts.conftest import PASSWORD, World, cheap_passwords

pytestmark = pytest.mark.anyio


async def test_a_password_change_retires_the_old_version(world: World, accounts: AccountService) -> None:
    before = world.principals["alice"]
    assert await accounts.still_valid(before)
    assert await accounts.principal_for("alice", version=before.credentials_version) is not None

    await accounts.set_password("alice", "a brand new password")

    assert not await accounts.still_valid(before)
    assert await accounts.principal_for("alice", version=before.credentials_version) is None
    assert await accounts.principal_for("alice") is not None  # no version given: not checked
    after = await accounts.authenticate("alice", "a brand new password")
    assert after is not None and after.credentials_version == before.credentials_version + 1
    assert await accounts.still_valid(after)


async def test_tokens_survive_a_password_change_but_not_revocation(
    world: World, accounts: AccountService
) -> None:
    token = await world.token("alice", "repo:read")
    await accounts.set_password("alice", "a brand new password")
    assert await accounts.still_valid(token)
    await accounts.revoke_token("alice", token.token_id or 0)
    assert not await accounts.still_valid(token)


async def test_a_disabled_account_opens_nothing(world: World, accounts: AccountService) -> None:
    alice = world.principals["alice"]
    token = await world.token("alice", "repo:write")
    await accounts.set_disabled("alice", True, actor="root")
    assert (await accounts.get_user("alice")).disabled  # type: ignore[union-attr]
    assert await accounts.authenticate("alice", PASSWORD) is None
    assert await accounts.principal_for("alice") is None
    assert await accounts.principal_for("alice", token_id=token.token_id) is None
    assert not await accounts.still_valid(alice) and not await accounts.still_valid(token)

    await accounts.set_disabled("alice", False, actor="root")
    assert await accounts.authenticate("alice", PASSWORD) is not None
    assert await accounts.still_valid(token)  # the PAT works again ...
    assert not await accounts.still_valid(alice)  # ... what the old password issued does not


async def test_a_demoted_administrator_loses_what_the_admin_login_issued(
    world: World, accounts: AccountService
) -> None:
    dave = world.principals["dave"]
    await accounts.set_admin("dave", False)
    assert not await accounts.still_valid(dave)


async def test_a_look_alike_principal_never_stands_for_another_account(
    world: World, accounts: AccountService
) -> None:
    alice = world.principals["alice"]
    assert not await accounts.still_valid(Principal("bobby", alice.user_id, False))


async def test_delete_refuses_while_repositories_or_sole_ownership_remain(
    world: World, accounts: AccountService
) -> None:
    with pytest.raises(Conflict, match="repositories"):
        await accounts.delete_user("alice")
    for repo in await accounts.list_repositories("alice"):
        await _drop_repository(accounts.db, repo.name)
    with pytest.raises(Conflict, match="last owner of acme"):
        await accounts.delete_user("alice")
    await accounts.add_team_member("acme", "owners", "bobby")
    await accounts.delete_user("alice", actor="root")

    assert await accounts.get_user("alice") is None
    assert await accounts.authenticate("alice", PASSWORD) is None
    with pytest.raises(AlreadyExists, match="not given out again"):
        await accounts.create_user("alice", "", PASSWORD)
    with pytest.raises(AlreadyExists):
        await accounts.create_org("alice", "bobby")
    with pytest.raises(NotFound):  # nobody can create repositories in a retired namespace
        await accounts.create_repository("alice/again")
    assert [t.members for t in await accounts.list_teams("acme") if t.name == "owners"] == [("bobby",)]


async def _drop_repository(database: Database, name: str) -> None:
    from dockyard.registry.store import repositories

    with database.write.begin() as conn:
        conn.execute(repositories.delete().where(repositories.c.name == name))


def test_ipv6_addresses_count_by_their_64() -> None:
    assert limits.signup_key("2001:db8::1") == limits.signup_key("2001:db8::ffff:1") == "signup:2001:db8::/64"
    assert limits.signup_key("2001:db8:0:1::1") != limits.signup_key("2001:db8::1")
    assert limits.signup_key("::ffff:192.0.2.7") == limits.signup_key("192.0.2.7") == "signup:192.0.2.7"


def test_the_window_slides_and_says_when_it_frees(database: Database) -> None:
    window = Window(limit=2, seconds=3600)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with database.write.begin() as conn:
        limits.take(conn, "k", window, start, "acts")
        limits.take(conn, "k", window, start + timedelta(minutes=10), "acts")
        with pytest.raises(RateLimited) as refused:
            limits.take(conn, "k", window, start + timedelta(minutes=30), "acts")
        assert refused.value.retry_after == 30 * 60  # the first act leaves the window then
        assert "at most 2 in 60 minutes" in refused.value.message
        limits.take(conn, "k", window, start + timedelta(minutes=61), "acts")  # the first left
        limits.take(conn, "other", window, start + timedelta(minutes=61), "acts")  # keys are apart


async def test_signups_per_address_and_repositories_per_user(database: Database) -> None:
    accounts = AccountService(
        database,
        cheap_passwords(),
        CreationLimits(Window(2, 3600), Window(2, 3600), repositories_per_namespace=3),
    )
    for name in ("user1", "user2"):
        await accounts.create_user(name, "", PASSWORD, signup_address="192.0.2.1")
    with pytest.raises(RateLimited):
        await accounts.create_user("user3", "", PASSWORD, signup_address="192.0.2.1")
    await accounts.create_user("user3", "", PASSWORD, signup_address="192.0.2.2")
    await accounts.create_user("admin1", "", PASSWORD, admin=True)  # administrators are not limited

    user1 = await accounts.authenticate("user1", PASSWORD)
    assert user1 is not None
    await accounts.create_repository("user1/a", created_by=user1)
    await accounts.ensure_repository("user1/b", user1)
    await accounts.ensure_repository("user1/b", user1)  # an existing repository counts nothing
    with pytest.raises(RateLimited):
        await accounts.ensure_repository("user1/c", user1)
    await accounts.create_repository("user1/c")  # the command line is not limited: now 3
    admin = Principal("admin1", 99, True)
    await accounts.create_repository("user1/d", created_by=admin)  # nor administrators
    user2 = await accounts.authenticate("user2", PASSWORD)
    assert user2 is not None
    await accounts.create_org("team1", "user2")
    await accounts.create_repository("team1/a", created_by=user2)
    await accounts.create_repository("team1/b", created_by=user2)
    with pytest.raises(RateLimited):  # the per-user window counts every namespace
        await accounts.create_repository("team1/c", created_by=user2)
    cap = AccountService(database, cheap_passwords(), CreationLimits(repositories_per_namespace=3))
    with pytest.raises(QuotaExceeded, match="holds 3 repositories"):  # user1 holds a, b, c and d
        await cap.ensure_repository("user1/e", user1)
    await cap.ensure_repository("team1/c", user2)  # team1 holds two


async def test_standing_asks_once_a_ttl() -> None:
    asked: list[Principal] = []
    now = [100.0]

    async def still_valid(principal: Principal) -> bool:
        asked.append(principal)
        return len(asked) == 1

    standing = Standing(still_valid, ttl=1.0, clock=lambda: now[0])
    alice = Principal("alice", 1, False)
    assert await standing.holds(alice) and await standing.holds(alice)
    assert len(asked) == 1
    now[0] += 1.5
    assert not await standing.holds(alice)
    assert len(asked) == 2
