"""Fixtures for the accounts domain: an AccountService over the test's own migrated database
(``database``, a copy of the session's template: tests/conftest.py).

Passwords are hashed with deliberately cheap Argon2id parameters here (tests that check the
production parameters build their own ``Passwords``), so a suite full of logins stays fast.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from argon2 import PasswordHasher

from dockyard.accounts.credentials import Passwords
from dockyard.accounts.records import Principal
from dockyard.accounts.service import AccountService
from dockyard.db.engine import Database
from tests.postgres.fixtures import database_url, postgres_template, postgres_url  # noqa: F401

PASSWORD = "correct horse battery"


def cheap_passwords() -> Passwords:
    return Passwords(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture
def accounts(database: Database) -> AccountService:
    return AccountService(database, cheap_passwords())


@pytest.fixture
async def alice(accounts: AccountService) -> Principal:
    await accounts.create_user("alice", "alice@example.com", PASSWORD)
    principal = await accounts.authenticate("alice", PASSWORD)
    assert principal is not None
    return principal


class World:
    """Users, an organisation with teams, and repositories of every visibility, made through the API."""

    def __init__(self, accounts: AccountService) -> None:
        self.accounts = accounts
        self.principals: dict[str, Principal] = {}

    async def user(self, name: str, *, admin: bool = False) -> Principal:
        await self.accounts.create_user(name, f"{name}@example.com", PASSWORD, admin=admin)
        principal = await self.accounts.authenticate(name, PASSWORD)
        assert principal is not None
        self.principals[name] = principal
        return principal

    async def token(self, user: str, *scopes: str) -> Principal:
        _, plaintext = await self.accounts.create_token(user, "test", scopes)
        principal = await self.accounts.authenticate(user, plaintext)
        assert principal is not None
        return principal


@pytest.fixture
async def world(accounts: AccountService) -> AsyncIterator[World]:
    """alice, bobby, carol, dave (admin), erin; org acme owned by alice with teams readers (bobby),
    writers (carol), admins (erin), and frank a member in no team; repositories public and private
    in each namespace; alice/private shared with collaborators gina (read), hank (write, and read
    on alice/public) and ivan (admin)."""
    w = World(accounts)
    for name in ("alice", "bobby", "carol", "erin", "frank", "gina", "hank", "ivan"):
        await w.user(name)
    await w.user("dave", admin=True)
    await accounts.create_org("acme", "alice")
    for team, member in (("readers", "bobby"), ("writers", "carol"), ("admins", "erin")):
        await accounts.create_team("acme", team)
        await accounts.add_team_member("acme", team, member)
    await accounts.create_repository("acme/private", private=True)
    await accounts.create_repository("acme/public", private=False)
    await accounts.create_repository("acme/other", private=True)
    for team, permission in (("readers", "read"), ("writers", "write"), ("admins", "admin")):
        await accounts.set_team_permission("acme", team, "acme/private", permission)
        await accounts.set_team_permission("acme", team, "acme/public", permission)
    await accounts.add_member("acme", "frank")
    await accounts.create_repository("alice/private", private=True)
    await accounts.create_repository("alice/public", private=False)
    for user, repository, permission in (
        ("gina", "alice/private", "read"),
        ("hank", "alice/private", "write"),
        ("hank", "alice/public", "read"),
        ("ivan", "alice/private", "admin"),
    ):
        await accounts.set_collaborator(repository, user, permission)
    await accounts.create_repository("library/busybox", private=False)
    await accounts.create_repository("library/secret", private=True)
    yield w
