"""Organisation members and roles, teams changed and deleted, organisations deleted: the service's
rules (an organisation always keeps an owner; names are never given out again) and their audit."""

from __future__ import annotations

import pytest

from dockyard.accounts.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from dockyard.accounts.service import AccountService
from tests.accounts.conftest import World

pytestmark = pytest.mark.anyio


async def _roles(accounts: AccountService, org: str) -> dict[str, str]:
    return {m.username: m.role for m in await accounts.list_members(org)}


async def test_members_and_their_roles(world: World, accounts: AccountService) -> None:
    assert await _roles(accounts, "acme") == {
        "alice": "owner",
        "bobby": "member",
        "carol": "member",
        "erin": "member",
        "frank": "member",
    }
    listed = {m.username: m for m in await accounts.list_members("acme")}
    assert listed["bobby"].teams == ("readers",) and listed["frank"].teams == ()
    assert listed["alice"].teams == ()  # owners is the role, not listed among the teams
    assert [m.username for m in await accounts.list_members("acme", role="owner")] == ["alice"]
    assert [m.username for m in await accounts.list_members("acme", search="ob")] == ["bobby"]
    assert await accounts.member_role("acme", "frank") == "member"
    assert await accounts.member_role("acme", "gina") is None
    assert await accounts.member_role("nosuchorg", "gina") is None
    assert await accounts.orgs_of("alice") == [("acme", "owner")]
    assert await accounts.orgs_of("gina") == []


async def test_add_member_in_a_role(world: World, accounts: AccountService) -> None:
    added = await accounts.add_member("acme", "gina", "owner", actor="alice")
    assert added.role == "owner"
    assert await accounts.repository_actions(world.principals["gina"], "acme/other") == {
        "pull",
        "push",
        "delete",
    }
    with pytest.raises(AlreadyExists):
        await accounts.add_member("acme", "gina")
    with pytest.raises(InvalidInput):
        await accounts.add_member("acme", "hank", "editor")
    with pytest.raises(NotFound):
        await accounts.add_member("acme", "nosuchuser")
    event = (await accounts.list_events(1))[0]
    assert (event.kind, event.actor, event.target) == ("org.member_added", "alice", "acme")
    assert event.detail == {"user": "gina", "role": "owner"}


async def test_roles_change_and_the_last_owner_stays(world: World, accounts: AccountService) -> None:
    with pytest.raises(Conflict, match="last owner"):
        await accounts.set_member_role("acme", "alice", "member")
    with pytest.raises(Conflict, match="last owner"):
        await accounts.remove_member("acme", "alice")
    with pytest.raises(Conflict, match="last owner"):
        await accounts.remove_team_member("acme", "owners", "alice")
    assert (await accounts.set_member_role("acme", "frank", "owner", actor="alice")).role == "owner"
    assert (await accounts.set_member_role("acme", "alice", "member")).role == "member"
    assert await _roles(accounts, "acme") == {
        "alice": "member",
        "bobby": "member",
        "carol": "member",
        "erin": "member",
        "frank": "owner",
    }
    assert await accounts.repository_actions(world.principals["alice"], "acme/other") == frozenset()
    with pytest.raises(NotFound):
        await accounts.set_member_role("acme", "gina", "owner")
    kinds = [e.kind for e in await accounts.list_events(2)]
    assert kinds == ["org.role_changed", "org.role_changed"]


async def test_removing_a_member_takes_them_out_of_every_team(world: World, accounts: AccountService) -> None:
    await accounts.remove_member("acme", "carol", actor="alice")
    assert "carol" not in await _roles(accounts, "acme")
    assert all("carol" not in team.members for team in await accounts.list_teams("acme"))
    assert await accounts.repository_actions(world.principals["carol"], "acme/private") == frozenset()
    with pytest.raises(NotFound):
        await accounts.remove_member("acme", "carol")


async def test_joining_a_team_makes_a_member(world: World, accounts: AccountService) -> None:
    await accounts.add_team_member("acme", "readers", "gina")
    assert await accounts.member_role("acme", "gina") == "member"
    await accounts.remove_team_member("acme", "readers", "gina")
    assert await accounts.member_role("acme", "gina") == "member"  # still in the organisation


async def test_deleting_a_user_ends_their_memberships(world: World, accounts: AccountService) -> None:
    await accounts.delete_user("frank")
    assert "frank" not in await _roles(accounts, "acme")


async def test_teams_are_renamed_and_deleted(world: World, accounts: AccountService) -> None:
    renamed = await accounts.update_team("acme", "readers", name="viewers", description="look only")
    assert (renamed.name, renamed.description, renamed.members) == ("viewers", "look only", ("bobby",))
    assert [p.team for p in await accounts.list_team_permissions("acme", "viewers")] == ["viewers", "viewers"]
    with pytest.raises(AlreadyExists):
        await accounts.update_team("acme", "viewers", name="writers")
    with pytest.raises(Conflict):
        await accounts.update_team("acme", "owners", name="bosses")
    with pytest.raises(Conflict):
        await accounts.delete_team("acme", "owners")
    await accounts.delete_team("acme", "viewers")
    assert await accounts.repository_actions(world.principals["bobby"], "acme/private") == frozenset()
    assert await accounts.member_role("acme", "bobby") == "member"
    with pytest.raises(NotFound):
        await accounts.get_team("acme", "viewers")


async def test_deleting_an_organisation(world: World, accounts: AccountService) -> None:
    with pytest.raises(Conflict, match="3 repositories"):
        await accounts.delete_org("acme")
    await accounts.create_org("emptyorg", "bobby")
    await accounts.create_team("emptyorg", "devs")
    await accounts.add_team_member("emptyorg", "devs", "carol")
    await accounts.delete_org("emptyorg", actor="bobby")
    assert await accounts.get_org("emptyorg") is None
    assert await accounts.orgs_of("carol") == [("acme", "member")]
    # The name is retired: nobody can take it over, as a user or an organisation.
    with pytest.raises(AlreadyExists, match="deleted account"):
        await accounts.create_org("emptyorg", "bobby")
    with pytest.raises(AlreadyExists):
        await accounts.create_user("emptyorg", "", "a long enough password")
    event = (await accounts.list_events(1))[0]
    assert (event.kind, event.actor, event.target) == ("org.deleted", "bobby", "emptyorg")
