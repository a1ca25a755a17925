"""The access policy as a table: every kind of caller against every kind of repository.

P = pull, W = push, D = delete; "-" = nothing (private and missing repositories must look alike).
The catalog filter is the same rule in SQL, so it is checked against this table too.
"""

from __future__ import annotations

import pytest

from dockyard.accounts.policy import RepositoryFacts, repository_actions
from dockyard.accounts.records import Principal
from dockyard.accounts.service import AccountService
from tests.accounts.conftest import World

pytestmark = pytest.mark.anyio

LETTERS = {"P": "pull", "W": "push", "D": "delete"}


def actions(code: str) -> frozenset[str]:
    return frozenset(LETTERS[c] for c in code if c != "-")


REPOSITORIES = [
    "acme/private",  # org, private, every team has a permission
    "acme/public",  # org, public, every team has a permission
    "acme/other",  # org, private, no team permission
    "acme/new",  # org, does not exist
    "alice/private",
    "alice/public",
    "alice/new",  # alice's namespace, does not exist
    "library/busybox",  # official, public
    "library/secret",  # official, private
    "library/new",  # official, does not exist
    "nobody/thing",  # no such namespace
]

# caller: one code per repository above, in order.
#               acme/private public other new  alice/private public new  lib/busybox secret new  nobody
TABLE = {
    "anonymous": "  -            P     -     -        -          P     -        P         -     -     -",
    "alice":     "  PWD          PWD   PWD   PWD      PWD        PWD   PWD      P         -     -     -",
    "bobby":     "  P            P     -     -        -          P     -        P         -     -     -",
    "carol":     "  PW           PW    -     -        -          P     -        P         -     -     -",
    "erin":      "  PWD          PWD   -     -        -          P     -        P         -     -     -",
    "dave":      "  PWD          PWD   PWD   PWD      PWD        PWD   PWD      PWD       PWD   PWD   PWD",
    # A member of acme in no team: membership alone gives nothing.
    "frank":     "  -            P     -     -        -          P     -        P         -     -     -",
    # Collaborators on alice/private: read, write, admin (hank's read on public adds nothing).
    "gina":      "  -            P     -     -        P          P     -        P         -     -     -",
    "hank":      "  -            P     -     -        PW         P     -        P         -     -     -",
    "ivan":      "  -            P     -     -        PWD        P     -        P         -     -     -",
}  # fmt: skip

# (user, scopes): what a personal access token of that user may do, same columns.
TOKENS = {
    ("alice", ("repo:admin",)):       "PWD  PWD  PWD  PWD   PWD  PWD  PWD   P   -   -   -",
    ("alice", ("repo:write",)):       "PW   PW   PW   PW    PW   PW   PW    P   -   -   -",
    ("alice", ("repo:read",)):        "P    P    P    P     P    P    P     P   -   -   -",
    ("alice", ("repo:public_read",)): "-    P    -    -     -    P    -     P   -   -   -",
    ("alice", ("repo:read", "repo:write")): "PW PW PW PW  PW PW PW  P - - -",
    # A token never gives more than the account has.
    ("bobby", ("repo:admin",)):       "P    P    -    -     -    P    -     P   -   -   -",
    ("carol", ("repo:read",)):        "P    P    -    -     -    P    -     P   -   -   -",
    ("dave", ("repo:public_read",)):  "-    P    -    -     -    P    -     P   -   -   -",
    ("dave", ("repo:write",)):        "PW   PW   PW   PW    PW   PW   PW    PW  PW  PW  PW",
    ("ivan", ("repo:write",)):        "-    P    -    -     PW   P    -     P   -   -   -",
    ("ivan", ("repo:public_read",)):  "-    P    -    -     -    P    -     P   -   -   -",
}  # fmt: skip


def _row(codes: str) -> dict[str, frozenset[str]]:
    return {repo: actions(code) for repo, code in zip(REPOSITORIES, codes.split(), strict=True)}


def _principal(world: World, caller: str) -> Principal | None:
    return None if caller == "anonymous" else world.principals[caller]


@pytest.mark.parametrize("caller", sorted(TABLE))
async def test_policy_table(world: World, accounts: AccountService, caller: str) -> None:
    principal = _principal(world, caller)
    got = {repo: await accounts.repository_actions(principal, repo) for repo in REPOSITORIES}
    want = _row(TABLE[caller])
    assert got == want


@pytest.mark.parametrize(("user", "scopes"), sorted(TOKENS))
async def test_token_scopes_narrow(
    world: World, accounts: AccountService, user: str, scopes: tuple[str, ...]
) -> None:
    principal = await world.token(user, *scopes)
    assert principal.token_scopes == frozenset(scopes)
    got = {repo: await accounts.repository_actions(principal, repo) for repo in REPOSITORIES}
    want = _row(TOKENS[(user, scopes)])
    assert got == want


async def test_own_namespace_before_first_push(world: World, accounts: AccountService) -> None:
    bobby = world.principals["bobby"]
    assert await accounts.repository_actions(bobby, "bobby/fresh") == actions("PWD")
    assert await accounts.repository_actions(bobby, "bobby/deep/path/name") == actions("PWD")
    # ... and nobody else's, not even as a prefix of a longer name.
    assert await accounts.repository_actions(bobby, "bobbyx/fresh") == actions("-")
    assert await accounts.repository_actions(world.principals["carol"], "bobby/fresh") == actions("-")


async def test_private_and_missing_look_alike(world: World, accounts: AccountService) -> None:
    for caller in ("anonymous", "bobby"):
        principal = _principal(world, caller)
        private = await accounts.repository_actions(principal, "alice/private")
        missing = await accounts.repository_actions(principal, "alice/does-not-exist")
        assert private == missing == frozenset()


async def test_grant_then_revoke_changes_access(world: World, accounts: AccountService) -> None:
    bobby = world.principals["bobby"]
    assert await accounts.repository_actions(bobby, "acme/other") == actions("-")
    await accounts.set_team_permission("acme", "readers", "acme/other", "read")
    assert await accounts.repository_actions(bobby, "acme/other") == actions("P")
    await accounts.set_team_permission("acme", "readers", "acme/other", "write")
    assert await accounts.repository_actions(bobby, "acme/other") == actions("PW")
    await accounts.remove_team_permission("acme", "readers", "acme/other")
    assert await accounts.repository_actions(bobby, "acme/other") == actions("-")


async def test_leaving_a_team_takes_access_away(world: World, accounts: AccountService) -> None:
    carol = world.principals["carol"]
    await accounts.remove_team_member("acme", "writers", "carol")
    assert await accounts.repository_actions(carol, "acme/private") == actions("-")
    assert await accounts.repository_actions(carol, "acme/public") == actions("P")


async def test_joining_owners_gives_everything_in_the_org(world: World, accounts: AccountService) -> None:
    bobby = world.principals["bobby"]
    await accounts.add_team_member("acme", "owners", "bobby")
    assert await accounts.repository_actions(bobby, "acme/other") == actions("PWD")
    assert await accounts.repository_actions(bobby, "acme/new") == actions("PWD")


async def test_collaborator_changes_take_effect(world: World, accounts: AccountService) -> None:
    gina = world.principals["gina"]
    await accounts.set_collaborator("alice/private", "gina", "write")
    assert await accounts.repository_actions(gina, "alice/private") == actions("PW")
    await accounts.remove_collaborator("alice/private", "gina")
    assert await accounts.repository_actions(gina, "alice/private") == actions("-")
    # Only on that repository, never on new names in alice's namespace.
    assert await accounts.repository_actions(world.principals["ivan"], "alice/new") == actions("-")


async def test_making_public_opens_pull_to_everyone(world: World, accounts: AccountService) -> None:
    await accounts.set_visibility("alice/private", False)
    assert await accounts.repository_actions(None, "alice/private") == actions("P")
    assert await accounts.repository_actions(world.principals["bobby"], "alice/private") == actions("P")


# -- the catalog filter is the same pull rule, in SQL -----------------------------------------------


async def _pullable(accounts: AccountService, principal: Principal | None, names: list[str]) -> list[str]:
    return sorted([name for name in names if "pull" in await accounts.repository_actions(principal, name)])


@pytest.mark.parametrize("caller", sorted(TABLE))
async def test_catalog_lists_exactly_the_pullable(
    world: World, accounts: AccountService, caller: str
) -> None:
    principal = _principal(world, caller)
    existing = [r.name for r in await accounts.list_repositories()]
    pullable = await _pullable(accounts, principal, existing)
    assert (await accounts.catalog(principal, None, None)).items == pullable
    assert await accounts.readable_repositories(principal, [*REPOSITORIES, *existing]) == [
        name for name in dict.fromkeys([*REPOSITORIES, *existing]) if name in pullable
    ]


@pytest.mark.parametrize(("user", "scopes"), sorted(TOKENS))
async def test_catalog_respects_token_scopes(
    world: World, accounts: AccountService, user: str, scopes: tuple[str, ...]
) -> None:
    principal = await world.token(user, *scopes)
    existing = [r.name for r in await accounts.list_repositories()]
    pullable = await _pullable(accounts, principal, existing)
    assert (await accounts.catalog(principal, None, None)).items == pullable


async def test_catalog_pages_stay_full(world: World, accounts: AccountService) -> None:
    bobby = world.principals["bobby"]
    first = await accounts.catalog(bobby, 2, None)
    assert first.items == ["acme/private", "acme/public"] and first.last == "acme/public"
    second = await accounts.catalog(bobby, 2, first.last)
    assert second.items == ["alice/public", "library/busybox"] and second.last is None
    assert (await accounts.catalog(bobby, 10, "library/busybox")).items == []


# -- the pure rules, without a database ---------------------------------------------------------------


def test_pure_policy_public_read_needs_a_public_existing_repository() -> None:
    token = Principal("x", 1, False, token_id=1, token_scopes=frozenset({"repo:public_read"}))
    own_missing = RepositoryFacts(exists=False, is_private=False, namespace_is_caller=True)
    assert repository_actions(token, own_missing) == frozenset()
    own_public = RepositoryFacts(exists=True, is_private=False, namespace_is_caller=True)
    assert repository_actions(token, own_public) == frozenset({"pull"})


def test_pure_policy_team_permissions_need_an_existing_repository() -> None:
    member = Principal("x", 1, False)
    admin = frozenset({"admin"})
    assert repository_actions(member, RepositoryFacts(False, False, team_permissions=admin)) == set()
    assert repository_actions(member, RepositoryFacts(True, True, team_permissions=admin)) == actions("PWD")
