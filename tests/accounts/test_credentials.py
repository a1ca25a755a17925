"""Passwords (Argon2id) and personal access tokens: hashing, authentication, expiry, revocation."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from dockyard.accounts.credentials import MAX_SECRET_BYTES, Passwords
from dockyard.accounts.errors import InvalidInput, InvalidPassword, InvalidScope, NotFound
from dockyard.accounts.service import AccountService, tokens, users
from dockyard.db.engine import Database
from tests.accounts.conftest import PASSWORD, cheap_passwords

pytestmark = pytest.mark.anyio

PAT_RE = re.compile(r"dckr_pat_[A-Za-z0-9_-]{36}")


def stored_hash(database: Database) -> str:
    with database.read.connect() as conn:
        return str(conn.execute(select(users.c.password_hash)).scalar_one())


def database_bytes(tmp_path: Path) -> bytes:
    """Every byte SQLite wrote: the database and its write-ahead log."""
    return b"".join(p.read_bytes() for p in tmp_path.glob("dockyard.db*"))


# -- passwords ----------------------------------------------------------------------------------------


async def test_passwords_are_argon2id_with_the_production_parameters(database: Database) -> None:
    accounts = AccountService(database)  # the default hasher
    await accounts.create_user("alice", "", PASSWORD)
    assert stored_hash(database).startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await accounts.authenticate("alice", PASSWORD) is not None


async def test_password_never_stored_in_clear(accounts: AccountService, tmp_path: Path) -> None:
    await accounts.create_user("alice", "", PASSWORD)
    await accounts.authenticate("alice", PASSWORD)
    assert PASSWORD.encode() not in database_bytes(tmp_path)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 8"),
        ("1234567", "at least 8"),
        ("x" * (MAX_SECRET_BYTES + 1), "at most"),
        ("é" * 600, "at most"),  # 600 characters, 1200 bytes
        ("dckr_pat_looks-like-a-token", "dckr_pat_"),
    ],
)
async def test_password_rules(accounts: AccountService, password: str, message: str) -> None:
    with pytest.raises(InvalidPassword, match=message):
        await accounts.create_user("alice", "", password)
    assert await accounts.get_user("alice") is None


async def test_authenticate_with_password(accounts: AccountService) -> None:
    await accounts.create_user("alice", "a@example.com", PASSWORD, admin=True)
    principal = await accounts.authenticate("alice", PASSWORD)
    assert principal is not None
    assert (principal.username, principal.is_admin, principal.token_id, principal.token_scopes) == (
        "alice",
        True,
        None,
        None,
    )
    assert await accounts.authenticate("alice", PASSWORD + "x") is None
    assert await accounts.authenticate("alice", "") is None
    assert await accounts.authenticate("nobody", PASSWORD) is None
    user = await accounts.get_user("alice")
    assert user is not None and user.last_login_at is not None


async def test_unknown_user_costs_a_hash(accounts: AccountService, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(accounts.passwords, "waste_time", lambda secret: calls.append(secret))
    assert await accounts.authenticate("nobody", "whatever1") is None
    assert calls == ["whatever1"]


async def test_unknown_and_known_users_take_similar_time(database: Database) -> None:
    accounts = AccountService(database)  # production parameters: a measurable ~25 ms per hash
    await accounts.create_user("alice", "", PASSWORD)
    await accounts.authenticate("nobody", "warm up the dummy hash")

    async def fastest(username: str) -> float:
        """The least disturbed of several runs: the host may be busy with other work."""
        samples = []
        for _ in range(7):
            start = time.perf_counter()
            assert await accounts.authenticate(username, "wrong password") is None
            samples.append(time.perf_counter() - start)
        return min(samples)

    known, unknown = await fastest("alice"), await fastest("nobody")
    # Without the dummy hash an unknown user answers ~25x faster; these bounds catch that, not noise.
    assert 0.25 < unknown / known < 4, (known, unknown)


async def test_oversized_credentials_are_refused_before_hashing(
    accounts: AccountService, monkeypatch: pytest.MonkeyPatch
) -> None:
    await accounts.create_user("alice", "", PASSWORD)

    def fail(*args: object) -> None:
        raise AssertionError("hashed an oversized credential")

    monkeypatch.setattr(accounts.passwords, "verify", fail)
    monkeypatch.setattr(accounts.passwords, "waste_time", fail)
    assert await accounts.authenticate("alice", "x" * (MAX_SECRET_BYTES + 1)) is None
    assert await accounts.authenticate("a" * 10_000, PASSWORD) is None
    assert await accounts.authenticate("alice", "dckr_pat_" + "A" * 100_000) is None


async def test_hash_upgraded_at_login_when_parameters_change(database: Database) -> None:
    old = AccountService(database, Passwords(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)))
    await old.create_user("alice", "", PASSWORD)
    assert "$m=64,t=1,p=1$" in stored_hash(database)
    new = AccountService(database, Passwords(PasswordHasher(time_cost=2, memory_cost=128, parallelism=1)))
    assert await new.authenticate("alice", "wrong password") is None
    assert "$m=64,t=1,p=1$" in stored_hash(database)  # a failed login changes nothing
    assert await new.authenticate("alice", PASSWORD) is not None
    assert "$m=128,t=2,p=1$" in stored_hash(database)
    assert await new.authenticate("alice", PASSWORD) is not None


async def test_set_password(accounts: AccountService) -> None:
    await accounts.create_user("alice", "", PASSWORD)
    await accounts.set_password("alice", "another password")
    assert await accounts.authenticate("alice", PASSWORD) is None
    assert await accounts.authenticate("alice", "another password") is not None
    with pytest.raises(NotFound):
        await accounts.set_password("nobody", "another password")


# -- personal access tokens ---------------------------------------------------------------------------


async def test_token_format_storage_and_login(
    accounts: AccountService, database: Database, tmp_path: Path
) -> None:
    await accounts.create_user("alice", "", PASSWORD)
    token, plaintext = await accounts.create_token("alice", "laptop", ["repo:read"])
    assert PAT_RE.fullmatch(plaintext)
    assert token.scopes == {"repo:read"} and token.label == "laptop" and not token.revoked
    assert token.last_used_at is None and token.expires_at is None
    assert plaintext.startswith(token.hint.rstrip("…"))
    with database.read.connect() as conn:
        row = conn.execute(select(tokens)).one()
    assert row.secret_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext.encode() not in database_bytes(tmp_path)

    principal = await accounts.authenticate("alice", plaintext)
    assert principal is not None
    assert principal.username == "alice" and principal.token_id == token.id
    assert principal.token_scopes == {"repo:read"}
    (listed,) = await accounts.list_tokens("alice")
    assert listed.last_used_at is not None
    assert "plaintext" not in repr(listed) and plaintext not in repr(listed)


async def test_token_of_another_user_or_altered_fails(accounts: AccountService) -> None:
    await accounts.create_user("alice", "", PASSWORD)
    await accounts.create_user("bobby", "", PASSWORD)
    _, plaintext = await accounts.create_token("alice", "t", ["repo:admin"])
    assert await accounts.authenticate("bobby", plaintext) is None
    last = "A" if plaintext[-1] != "A" else "B"
    assert await accounts.authenticate("alice", plaintext[:-1] + last) is None
    assert await accounts.authenticate("alice", plaintext + "A") is None
    assert await accounts.authenticate("alice", plaintext[:-1]) is None
    assert await accounts.authenticate("alice", "dckr_pat_") is None


async def test_revoked_token_fails(accounts: AccountService) -> None:
    await accounts.create_user("alice", "", PASSWORD)
    token, plaintext = await accounts.create_token("alice", "t", ["repo:write"])
    principal = await accounts.authenticate("alice", plaintext)
    assert principal is not None
    revoked = await accounts.revoke_token("alice", token.id)
    assert revoked.revoked
    assert await accounts.authenticate("alice", plaintext) is None
    assert await accounts.principal_for("alice", token_id=token.id) is None  # refresh tokens die too
    assert [t.revoked for t in await accounts.list_tokens("alice")] == [True]


async def test_expired_token_fails(accounts: AccountService, database: Database) -> None:
    await accounts.create_user("alice", "", PASSWORD)
    soon = datetime.now(UTC) + timedelta(days=1)
    token, plaintext = await accounts.create_token("alice", "t", ["repo:read"], soon)
    assert token.expires_at == soon
    assert await accounts.authenticate("alice", plaintext) is not None
    with database.write.begin() as conn:
        past = datetime.now(UTC) - timedelta(seconds=1)
        conn.execute(update(tokens).where(tokens.c.id == token.id).values(expires_at=past))
    assert await accounts.authenticate("alice", plaintext) is None
    assert await accounts.principal_for("alice", token_id=token.id) is None


async def test_token_creation_rules(accounts: AccountService) -> None:
    await accounts.create_user("alice", "", PASSWORD)
    with pytest.raises(InvalidScope, match="unknown scope"):
        await accounts.create_token("alice", "t", ["repo:delete"])
    with pytest.raises(InvalidScope, match="at least one"):
        await accounts.create_token("alice", "t", [])
    with pytest.raises(InvalidInput, match="future"):
        await accounts.create_token("alice", "t", ["repo:read"], datetime.now(UTC) - timedelta(days=1))
    with pytest.raises(InvalidInput, match="timezone"):
        await accounts.create_token("alice", "t", ["repo:read"], datetime.now() + timedelta(days=1))
    with pytest.raises(InvalidInput, match="label"):
        await accounts.create_token("alice", "  ", ["repo:read"])
    with pytest.raises(NotFound):
        await accounts.create_token("nobody", "t", ["repo:read"])
    assert await accounts.list_tokens("alice") == []


async def test_revoke_only_your_own_token(accounts: AccountService) -> None:
    await accounts.create_user("alice", "", PASSWORD)
    await accounts.create_user("bobby", "", PASSWORD)
    token, plaintext = await accounts.create_token("alice", "t", ["repo:read"])
    with pytest.raises(NotFound):
        await accounts.revoke_token("bobby", token.id)
    with pytest.raises(NotFound):
        await accounts.revoke_token("alice", token.id + 100)
    assert await accounts.authenticate("alice", plaintext) is not None


async def test_principal_for_rereads_the_account(accounts: AccountService) -> None:
    await accounts.create_user("alice", "", PASSWORD, admin=True)
    first = await accounts.principal_for("alice")
    assert first is not None and first.is_admin
    await accounts.set_admin("alice", False)
    again = await accounts.principal_for("alice")
    assert again is not None and not again.is_admin
    assert await accounts.principal_for("nobody") is None
    token, _ = await accounts.create_token("alice", "t", ["repo:read"])
    via_token = await accounts.principal_for("alice", token_id=token.id)
    assert via_token is not None and via_token.token_scopes == {"repo:read"}
    assert await accounts.principal_for("bobby", token_id=token.id) is None


def test_passwords_helper_reports_rehash() -> None:
    passwords = cheap_passwords()
    stored = passwords.hash("a password")
    assert passwords.verify(stored, "a password") == (True, None)
    assert passwords.verify(stored, "another") == (False, None)
    assert passwords.verify("not a hash", "a password") == (False, None)
