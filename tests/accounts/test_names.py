"""Docker ID, team and repository name rules, through the service so the errors are the real ones."""

from __future__ import annotations

import pytest

from dockyard.accounts import names
from dockyard.accounts.errors import AlreadyExists, InvalidName
from dockyard.accounts.service import AccountService
from tests.accounts.conftest import PASSWORD

pytestmark = pytest.mark.anyio

BAD_NAMES = {
    "abc": "characters",  # too short
    "a" * 31: "characters",  # too long
    "": "characters",
    "Alice": "lowercase",
    "ALICE": "lowercase",
    "al-ice": "lowercase",
    "al_ice": "lowercase",
    "al.ice": "lowercase",
    "..": "characters",
    "....": "lowercase",
    "a/../b": "lowercase",
    "%2e%2e": "lowercase",
    "al%2ece": "lowercase",
    "\u0430lice": "lowercase",  # Cyrillic a
    "alic\u0435": "lowercase",  # Cyrillic e
    "\u212aelvin": "lowercase",  # Kelvin sign, which str.lower() turns into "k"
    "ｆｕｌｌｗｉｄｔｈ": "lowercase",  # fullwidth letters, NFKC-equal to "fullwidth"
    "alice\n": "lowercase",
    " alice": "lowercase",
    "alice\x00": "lowercase",
    "library": "reserved",
    "admin": "reserved",
    "root": "reserved",
    "token": "reserved",
    "dockyard": "reserved",
    "_catalog": "lowercase",  # reserved too, but invalid first
    "official": "reserved",
    "explore": "reserved",
    "search": "reserved",
    "settings": "reserved",
    "login": "reserved",
    "logout": "reserved",
    "signup": "reserved",
    "orgs": "reserved",
    "help": "reserved",
}


@pytest.mark.parametrize(("name", "reason"), sorted(BAD_NAMES.items()))
async def test_bad_user_names(accounts: AccountService, name: str, reason: str) -> None:
    with pytest.raises(InvalidName, match=reason):
        await accounts.create_user(name, "", PASSWORD)
    assert await accounts.user_count() == 0


@pytest.mark.parametrize("name", sorted(BAD_NAMES))
async def test_bad_org_names(accounts: AccountService, name: str) -> None:
    await accounts.create_user("owner", "", PASSWORD)
    with pytest.raises(InvalidName):
        await accounts.create_org(name, "owner")


@pytest.mark.parametrize("name", ["abcd", "a" * 30, "alice", "user1234", "0000", "r2d2"])
async def test_good_names(accounts: AccountService, name: str) -> None:
    user = await accounts.create_user(name, "", PASSWORD)
    assert user.username == name


async def test_names_are_unique_across_users_and_organisations(accounts: AccountService) -> None:
    await accounts.create_user("alice", "", PASSWORD)
    with pytest.raises(AlreadyExists, match="taken by a user"):
        await accounts.create_user("alice", "", PASSWORD)
    with pytest.raises(AlreadyExists, match="taken by a user"):
        await accounts.create_org("alice", "alice")
    await accounts.create_org("acme", "alice")
    with pytest.raises(AlreadyExists, match="taken by an organisation"):
        await accounts.create_user("acme", "", PASSWORD)
    with pytest.raises(AlreadyExists):
        await accounts.create_org("acme", "alice")


async def test_look_alike_never_authenticates_as_the_original(accounts: AccountService) -> None:
    await accounts.create_user("kelvin", "", PASSWORD)
    assert await accounts.authenticate("\u212aelvin", PASSWORD) is None
    assert await accounts.authenticate("\u212aELVIN", PASSWORD) is None  # not folded at all: not ASCII
    assert await accounts.authenticate("kelvin ", PASSWORD) is None
    assert await accounts.authenticate("kelvin", PASSWORD) is not None


@pytest.mark.parametrize("username", ["Alice", "ALICE", "aLiCe"])
async def test_ascii_case_variations_log_in_as_the_lowercase_account(
    accounts: AccountService, username: str
) -> None:
    """docker login -u Alice: Docker IDs are lowercase, so an ASCII name is matched in any case."""
    await accounts.create_user("alice", "", PASSWORD)
    _, plaintext = await accounts.create_token("alice", "laptop", ["repo:read"])
    by_password = await accounts.authenticate(username, PASSWORD)
    by_token = await accounts.authenticate(username, plaintext)
    assert by_password is not None and by_password.username == "alice"
    assert by_token is not None and (by_token.username, by_token.token_scopes) == ("alice", {"repo:read"})
    assert await accounts.authenticate(username, PASSWORD + "x") is None


@pytest.mark.parametrize(
    "username",
    [
        "\u212aelly",  # Kelvin sign: "\u212aelly".lower() == "kelly"
        "\u212aELLY",
        "\uff2bELLY",  # fullwidth K
        "K\u0435LLY",  # Cyrillic e
        "KELLY\u200b",  # zero-width space
    ],
)
async def test_non_ascii_names_are_not_case_folded(accounts: AccountService, username: str) -> None:
    await accounts.create_user("kelly", "", PASSWORD)
    _, plaintext = await accounts.create_token("kelly", "laptop", ["repo:read"])
    assert await accounts.authenticate("KELLY", PASSWORD) is not None  # the ASCII spelling works
    assert await accounts.authenticate(username, PASSWORD) is None
    assert await accounts.authenticate(username, plaintext) is None


@pytest.mark.parametrize("team", ["Devs", "-devs", "", "a" * 31, "de v", "d\u0435vs", "devs/x", ".."])
async def test_bad_team_names(accounts: AccountService, team: str) -> None:
    await accounts.create_user("alice", "", PASSWORD)
    await accounts.create_org("acme", "alice")
    with pytest.raises(InvalidName):
        await accounts.create_team("acme", team)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("busybox", "library/busybox"), ("alice/app", "alice/app"), ("alice/a/b-c_d.e", "alice/a/b-c_d.e")],
)
def test_canonical_repository(given: str, canonical: str) -> None:
    assert names.canonical_repository(given) == canonical


@pytest.mark.parametrize(
    "name",
    ["Alice/app", "alice/App", "alice/../x", "alice/%2e%2e", "\u0430lice/app", "alice/app\n", "ab/app",
     "al-ice/app", "alice//app", "alice/", "/app", "alice/" + "a" * 250],
)  # fmt: skip
def test_bad_repository_names(name: str) -> None:
    with pytest.raises(InvalidName):
        names.canonical_repository(name)
