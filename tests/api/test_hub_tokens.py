"""Hub tokens and registry tokens share a signing key and nothing else."""

from __future__ import annotations

import time

import jwt
import pytest

from dockyard.accounts.records import Principal
from dockyard.auth.keys import ALGORITHM, SigningKey
from dockyard.auth.scopes import Scope
from dockyard.auth.tokens import InvalidToken, TokenAuthority
from dockyard.web.api.tokens import HubIdentity, HubTokens, InvalidHubToken

ALICE = Principal("alice", 7, False)
VIA_PAT = Principal("alice", 7, False, token_id=3, token_scopes=frozenset({"repo:read"}))


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


def hub_tokens(key: SigningKey, ttl: int = 600) -> HubTokens:
    return HubTokens(key, issuer="dockyard", service="dockyard", ttl=ttl, leeway=0)


def authority(key: SigningKey) -> TokenAuthority:
    return TokenAuthority(key, issuer="dockyard", service="dockyard", ttl=300, refresh_ttl=600, leeway=0)


def test_round_trip(key: SigningKey) -> None:
    tokens = hub_tokens(key)
    assert tokens.verify(tokens.issue(ALICE)) == HubIdentity("alice", 7, None)
    assert tokens.verify(tokens.issue(VIA_PAT)) == HubIdentity("alice", 7, 3)


def test_the_registry_refuses_hub_tokens(key: SigningKey) -> None:
    with pytest.raises(InvalidToken):
        authority(key).verify_access(hub_tokens(key).issue(ALICE))
    with pytest.raises(InvalidToken):
        authority(key).verify_refresh(hub_tokens(key).issue(ALICE))


def test_the_hub_refuses_registry_tokens(key: SigningKey) -> None:
    registry = authority(key)
    access = registry.issue_access(ALICE, [Scope("repository", "alice/app", frozenset({"pull"}))]).token
    for token in (access, registry.issue_refresh(ALICE)):
        with pytest.raises(InvalidHubToken):
            hub_tokens(key).verify(token)


def test_expired_forged_and_foreign_tokens(key: SigningKey) -> None:
    expired = hub_tokens(key, ttl=-10).issue(ALICE)
    with pytest.raises(InvalidHubToken):
        hub_tokens(key).verify(expired)
    other_key = SigningKey.generate()
    with pytest.raises(InvalidHubToken):
        hub_tokens(key).verify(hub_tokens(other_key).issue(ALICE))
    now = int(time.time())
    claims = {
        "iss": "dockyard",
        "sub": "alice",
        "aud": "dockyard:hub",
        "exp": now + 60,
        "nbf": now,
        "iat": now,
    }
    no_use = jwt.encode({**claims, "uid": 7}, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
    with pytest.raises(InvalidHubToken):
        hub_tokens(key).verify(no_use)
    hmac_signed = jwt.encode(
        {**claims, "use": "hub", "uid": 7}, "s" * 32, algorithm="HS256", headers={"kid": key.kid}
    )
    with pytest.raises(InvalidHubToken):
        hub_tokens(key).verify(hmac_signed)
    for junk in ("", "a.b.c", "x" * 10_000):
        with pytest.raises(InvalidHubToken):
            hub_tokens(key).verify(junk)
