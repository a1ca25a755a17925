"""OrgAdmin and RepositorySharing: what owners, members, outsiders, administrators, anonymous
callers and narrow tokens may do to an organisation and to a repository's collaborators."""

from __future__ import annotations

import pytest

from dockyard.accounts.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dockyard.accounts.roles import OrgAdmin, RepositorySharing
from dockyard.accounts.service import AccountService
from tests.accounts.conftest import World

pytestmark = pytest.mark.anyio


@pytest.fixture
def orgs(accounts: AccountService) -> OrgAdmin:
    return OrgAdmin(accounts)


@pytest.fixture
def sharing(accounts: AccountService) -> RepositorySharing:
    return RepositorySharing(accounts)


async def test_who_sees_and_who_manages(world: World, orgs: OrgAdmin) -> None:
    p = world.principals
    for name in ("alice", "bobby", "frank", "dave"):
        assert {m.username for m in await orgs.members(p[name], "acme")} >= {"alice", "frank"}
        assert {t.name for t in await orgs.teams(p[name], "acme")} >= {"owners", "readers"}
    for caller in (None, p["gina"]):
        with pytest.raises(PermissionDenied):
            await orgs.members(caller, "acme")
        with pytest.raises(PermissionDenied):
            await orgs.team(caller, "acme", "readers")
    with pytest.raises(NotFound):
        await orgs.members(p["alice"], "nosuchorg")
    for outsider in ("bobby", "frank", "gina"):
        with pytest.raises(PermissionDenied, match="only owners"):
            await orgs.add_member(p[outsider], "acme", "hank", "member")
        with pytest.raises(PermissionDenied):
            await orgs.create_team(p[outsider], "acme", "sneaky")
        with pytest.raises(PermissionDenied):
            await orgs.set_default_private(p[outsider], "acme", True)
        with pytest.raises(PermissionDenied):
            await orgs.delete(p[outsider], "acme")
    assert (await orgs.view(p["alice"], "acme")).can_manage
    assert not (await orgs.view(p["frank"], "acme")).can_manage
    assert (await orgs.view(p["dave"], "acme")).can_manage  # a site administrator


async def test_owners_manage(world: World, orgs: OrgAdmin, accounts: AccountService) -> None:
    alice = world.principals["alice"]
    await orgs.add_member(alice, "acme", " gina ", "member")
    await orgs.set_role(alice, "acme", "gina", "owner")
    await orgs.create_team(alice, "acme", "ops", "on call")
    assert await orgs.add_team_member(alice, "acme", "ops", "hank") is True
    assert await orgs.add_team_member(alice, "acme", "ops", "hank") is False
    await orgs.set_team_permission(alice, "acme", "ops", "other", "write")
    view = await orgs.team(alice, "acme", "ops")
    assert view.team.members == ("hank",)
    assert [(g.repository, g.permission) for g in view.permissions] == [("acme/other", "write")]
    await orgs.set_team_permission(alice, "acme", "ops", "acme/other", None)
    assert (await orgs.team(alice, "acme", "ops")).permissions == []
    with pytest.raises(InvalidInput):
        await orgs.set_team_permission(alice, "acme", "ops", "alice/private", "read")
    with pytest.raises(InvalidInput):
        await orgs.set_team_permission(alice, "acme", "owners", "acme/other", "read")
    with pytest.raises(NotFound):
        await orgs.set_team_permission(alice, "acme", "nosuchteam", "acme/other", "read")
    await orgs.update_team(alice, "acme", "ops", name="oncall", description="")
    await orgs.remove_team_member(alice, "acme", "oncall", "hank")
    await orgs.delete_team(alice, "acme", "oncall")
    assert (await orgs.set_default_private(alice, "acme", True)).default_private is True
    assert [r.name for r in await orgs.repositories(alice, "acme")] == [
        "acme/other",
        "acme/private",
        "acme/public",
    ]
    event = (await accounts.list_events(1))[0]
    assert (event.kind, event.actor) == ("visibility.default_changed", "alice")


async def test_members_leave_but_the_last_owner_cannot(world: World, orgs: OrgAdmin) -> None:
    p = world.principals
    with pytest.raises(PermissionDenied):
        await orgs.remove_member(p["frank"], "acme", "bobby")  # only themselves
    await orgs.remove_member(p["frank"], "acme", "frank")
    with pytest.raises(PermissionDenied):
        await orgs.view(p["frank"], "acme")
    with pytest.raises(Conflict, match="last owner"):
        await orgs.remove_member(p["alice"], "acme", "alice")


async def test_tokens_narrow_what_a_caller_does(world: World, orgs: OrgAdmin) -> None:
    reader = await world.token("alice", "repo:read")
    assert await orgs.members(reader, "acme")
    with pytest.raises(PermissionDenied):
        await orgs.add_member(reader, "acme", "gina", "member")
    with pytest.raises(PermissionDenied):
        await orgs.create(reader, "readorg")
    public = await world.token("alice", "repo:public_read")
    with pytest.raises(PermissionDenied):
        await orgs.members(public, "acme")
    admin_token = await world.token("alice", "repo:admin")
    await orgs.add_member(admin_token, "acme", "gina", "member")


async def test_create_and_delete(world: World, orgs: OrgAdmin, accounts: AccountService) -> None:
    gina = world.principals["gina"]
    with pytest.raises(PermissionDenied):
        await orgs.create(None, "anonorg")
    created = await orgs.create(gina, "ginaorg")
    assert await accounts.member_role("ginaorg", "gina") == "owner"
    assert [(o.name, role) for o, role in await orgs.orgs_of(gina)] == [(created.name, "owner")]
    await accounts.create_repository("ginaorg/app")
    with pytest.raises(Conflict, match="1 repositories"):
        await orgs.delete(gina, "ginaorg")


async def test_sharing_needs_admin_on_the_repository(world: World, sharing: RepositorySharing) -> None:
    p = world.principals
    for admin in ("alice", "ivan", "dave"):
        assert [c.username for c in await sharing.collaborators(p[admin], "alice/private")] == [
            "gina",
            "hank",
            "ivan",
        ]
    for caller in ("gina", "hank"):
        with pytest.raises(PermissionDenied):
            await sharing.collaborators(p[caller], "alice/private")
        with pytest.raises(PermissionDenied):
            await sharing.set(p[caller], "alice/private", "bobby", "read")
    for caller in (None, p["bobby"]):  # private: it looks missing to them
        with pytest.raises(NotFound):
            await sharing.collaborators(caller, "alice/private")
    with pytest.raises(PermissionDenied):
        await sharing.collaborators(None, "alice/public")
    for missing in ("alice/missing", "Bad Name"):
        with pytest.raises(NotFound):
            await sharing.collaborators(p["alice"], missing)
    added = await sharing.set(p["ivan"], "alice/private", " bobby ", "read")
    assert added.username == "bobby"
    assert (await sharing.collaborator(p["alice"], "alice/private", "bobby")).permission == "read"
    await sharing.remove(p["alice"], "alice/private", "bobby")
    reader = await world.token("alice", "repo:read")
    with pytest.raises(PermissionDenied):
        await sharing.set(reader, "alice/private", "bobby", "read")
