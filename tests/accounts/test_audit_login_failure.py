"""A failed login names the account only when it exists: a password typed as a username stays out."""

from __future__ import annotations

import pytest

from dockyard.accounts.service import AccountService
from dockyard.db.engine import Database

pytestmark = pytest.mark.anyio


async def test_unknown_names_are_not_recorded(database: Database) -> None:
    accounts = AccountService(database)
    await accounts.create_user("alice", "alice@example.com", "correct horse battery")

    await accounts.record_login_failure("Alice", ip="127.0.0.1", detail={"via": "test"})
    await accounts.record_login_failure("hunter2-my-password", ip="127.0.0.1", detail={"via": "test"})

    newest, oldest = (await accounts.list_events(kind="login.failure"))[:2]
    assert oldest.actor == "alice" and oldest.detail["known_account"] is True
    assert newest.actor is None and newest.detail["known_account"] is False
    assert "hunter2" not in repr(newest)
