"""Issuing and verifying tokens: what is accepted, and every way a token is refused."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from dockyard.accounts.records import Principal
from dockyard.auth.keys import SigningKey
from dockyard.auth.scopes import Scope
from dockyard.auth.tokens import InvalidToken, TokenAuthority
from tests.clock import FakeClock

KEY = SigningKey.generate()
ALICE = Principal("alice", 7, False)
PULL_PUSH = Scope("repository", "alice/app", frozenset({"pull", "push"}))


def authority(key: SigningKey = KEY, **overrides: Any) -> TokenAuthority:
    options: dict[str, Any] = {
        "issuer": "dockyard",
        "service": "dockyard",
        "ttl": 300,
        "refresh_ttl": 3600,
        "leeway": 60,
    }
    return TokenAuthority(key, **{**options, **overrides})


def forge(claims: dict[str, Any], *, key: SigningKey = KEY, headers: dict[str, Any] | None = None) -> str:
    return jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid, **(headers or {})})


def valid_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "dockyard",
        "sub": "alice",
        "aud": "dockyard",
        "exp": now + 300,
        "nbf": now,
        "iat": now,
        "jti": "x",
        "access": [PULL_PUSH.claim()],
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_issued_token_carries_the_spec_claims_and_kid() -> None:
    issued = authority().issue_access(ALICE, [PULL_PUSH])
    header = jwt.get_unverified_header(issued.token)
    assert header["alg"] == "ES256" and header["kid"] == KEY.kid
    claims = jwt.decode(issued.token, options={"verify_signature": False})
    assert {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "access"} <= claims.keys()
    assert claims["sub"] == "alice" and claims["aud"] == "dockyard" and claims["exp"] - claims["iat"] == 300
    assert claims["access"] == [{"type": "repository", "name": "alice/app", "actions": ["pull", "push"]}]
    assert issued.expires_in == 300 and issued.issued_at.endswith("Z")


def test_verified_token_grants_by_canonical_name() -> None:
    rocky = Scope("repository", "rockylinux", frozenset({"pull"}))
    verified = authority().verify_access(authority().issue_access(ALICE, [PULL_PUSH, rocky]).token)
    assert verified.account == ALICE
    assert verified.actions("repository", "alice/app") == {"pull", "push"}
    assert verified.actions("repository", "library/rockylinux") == {"pull"}
    assert verified.actions("repository", "bobby/app") == frozenset()


def test_anonymous_token_has_empty_subject_and_no_account() -> None:
    verified = authority().verify_access(authority().issue_access(None, []).token)
    assert verified.account is None and verified.subject == ""


def test_personal_access_token_principal_survives_the_round_trip() -> None:
    via_pat = Principal("alice", 7, True, token_id=3, token_scopes=frozenset({"repo:read"}))
    assert authority().verify_access(authority().issue_access(via_pat, []).token).account == via_pat


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": -120},  # expired beyond the leeway (times relative to now)
        {"nbf": +120},  # not yet valid beyond the leeway
        {"aud": "someone-else"},
        {"iss": "evil"},
        {"exp": None},
        {"aud": None},
        {"jti": None},
        {"access": None},
        {"sub": 5},
    ],
)
def test_bad_claims_are_refused(changes: dict[str, Any]) -> None:
    now = int(time.time())
    changes = {k: now + v if k in ("exp", "nbf") and v is not None else v for k, v in changes.items()}
    with pytest.raises(InvalidToken):
        authority().verify_access(forge(valid_claims(**changes)))


def test_small_clock_skew_is_accepted() -> None:
    now = int(time.time())
    token = forge(valid_claims(nbf=now + 30, iat=now + 30, exp=now - 30 + 300))
    assert authority().verify_access(token).subject == "alice"
    assert authority().verify_access(forge(valid_claims(exp=now - 30))).subject == "alice"


def test_signature_from_another_key_is_refused() -> None:
    other = SigningKey.generate()
    token = jwt.encode(valid_claims(), other.private_key, algorithm="ES256", headers={"kid": KEY.kid})
    with pytest.raises(InvalidToken):
        authority().verify_access(token)


def test_unknown_kid_is_refused() -> None:
    with pytest.raises(InvalidToken):
        authority().verify_access(forge(valid_claims(), headers={"kid": "AAAA:BBBB"}))


def test_alg_none_is_refused() -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": KEY.kid}).encode())
    token = f"{header}.{b64(json.dumps(valid_claims()).encode())}."
    with pytest.raises(InvalidToken):
        authority().verify_access(token)


def test_hs256_with_the_public_key_is_refused() -> None:
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KEY.kid}).encode())
    body = b64(json.dumps(valid_claims()).encode())
    with pytest.raises(InvalidToken):
        authority().verify_access(f"{header}.{body}.{b64(b'x' * 32)}")


def test_tampered_access_claim_is_refused() -> None:
    token = authority().issue_access(ALICE, [PULL_PUSH]).token
    header, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["access"][0]["actions"].append("delete")
    with pytest.raises(InvalidToken):
        authority().verify_access(f"{header}.{b64(json.dumps(claims).encode())}.{signature}")


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "e30.e30.", "x" * 5000])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        authority().verify_access(garbage)


def test_cached_token_still_expires() -> None:
    clock = FakeClock()
    clock_authority = authority(leeway=0, clock=clock)
    now = int(clock.time())
    token = forge(valid_claims(exp=now + 2, nbf=now, iat=now))
    assert clock_authority.verify_access(token).subject == "alice"  # verified, and now cached
    clock.advance(1)
    assert clock_authority.verify_access(token).subject == "alice"
    clock.advance(1.1)
    with pytest.raises(InvalidToken):
        clock_authority.verify_access(token)


def test_expiry_and_not_before_are_judged_by_the_authoritys_clock() -> None:
    """Not the system's: the one clock the server was given decides, for fresh tokens as for cached."""
    clock = FakeClock()
    now = int(clock.time())
    token = forge(valid_claims(exp=now + 120, nbf=now + 30, iat=now + 30))
    with pytest.raises(InvalidToken, match="not yet valid"):
        authority(leeway=0, clock=clock).verify_access(token)
    clock.advance(60)
    assert authority(leeway=0, clock=clock).verify_access(token).subject == "alice"
    clock.advance(60)
    with pytest.raises(InvalidToken, match="expired"):
        authority(leeway=0, clock=clock).verify_access(token)
    clock.advance(10)  # within the leeway: still good
    assert authority(leeway=60, clock=clock).verify_access(token).subject == "alice"


def test_issued_tokens_carry_the_authoritys_time() -> None:
    clock = FakeClock(start=1_700_000_000.0)
    issued = authority(clock=clock).issue_access(ALICE, [])
    claims = jwt.decode(issued.token, options={"verify_signature": False})
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (1_700_000_000, 1_700_000_000, 1_700_000_300)


def test_cache_is_bounded() -> None:
    small = authority(cache_size=3)
    tokens = [small.issue_access(ALICE, []).token for _ in range(5)]
    for token in tokens:
        small.verify_access(token)
    assert len(small._cache) == 3


def test_refresh_and_access_tokens_are_not_interchangeable() -> None:
    auth = authority()
    refresh = auth.issue_refresh(Principal("alice", 7, False, token_id=9))
    claims = auth.verify_refresh(refresh)
    assert (claims.username, claims.user_id, claims.token_id) == ("alice", 7, 9)
    with pytest.raises(InvalidToken):
        auth.verify_access(refresh)
    with pytest.raises(InvalidToken):
        auth.verify_refresh(auth.issue_access(ALICE, []).token)


def test_refresh_token_lives_as_configured() -> None:
    refresh = authority(refresh_ttl=86400).issue_refresh(ALICE)
    claims = jwt.decode(refresh, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 86400 and claims["use"] == "refresh"
