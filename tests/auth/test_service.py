"""AuthService against a fake accounts domain: grants, logins, throttling, refresh tokens, audit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pytest

from dockyard.accounts.records import CatalogPage, Principal
from dockyard.auth.keys import SigningKey
from dockyard.auth.ratelimit import PullRateLimiter
from dockyard.auth.scopes import Scope, parse_scopes
from dockyard.auth.service import AuthService
from dockyard.auth.throttle import LoginThrottle
from dockyard.auth.tokens import TokenAuthority
from dockyard.registry.errors import ErrorCode, RegistryError

ALICE = Principal("alice", 1, False)
PAT = Principal("alice", 1, False, token_id=5, token_scopes=frozenset({"repo:read"}))


class FakeAccounts:
    def __init__(self) -> None:
        self.events: list[tuple[str, str | None, str | None, dict[str, Any]]] = []
        self.revoked: set[int] = set()
        self.ensured: list[str] = []

    async def authenticate(self, username: str, secret: str) -> Principal | None:
        if username == "alice" and secret == "right-password":
            return ALICE
        if username == "alice" and secret == "dckr_pat_x":
            return PAT
        return None

    async def principal_for(
        self, username: str, *, token_id: int | None = None, version: int | None = None
    ) -> Principal | None:
        if username != "alice" or token_id in self.revoked:
            return None
        return PAT if token_id == 5 else ALICE

    async def still_valid(self, principal: Principal) -> bool:
        return principal.token_id not in self.revoked

    async def repository_actions(self, principal: Principal | None, repository: str) -> frozenset[str]:
        if repository == "library/public":
            return frozenset({"pull"})
        if principal is not None and repository.startswith("alice/"):
            return frozenset({"pull", "push", "delete"})
        return frozenset()

    async def readable_repositories(self, principal: Principal | None, names: Iterable[str]) -> list[str]:
        return list(names)

    async def catalog(self, principal: Principal | None, limit: int | None, last: str | None) -> CatalogPage:
        return CatalogPage([], None)

    async def ensure_repository(
        self, name: str, created_by: Principal | None, *, issued_at: datetime | None = None
    ) -> None:
        self.ensured.append(name)

    async def record_event(
        self,
        kind: str,
        *,
        actor: str | None = None,
        ip: str | None = None,
        target: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self.events.append((kind, actor, ip, dict(detail or {})))

    async def record_login_failure(
        self, attempted: str, *, ip: str | None, detail: Mapping[str, Any]
    ) -> None:
        known = attempted in {"alice"}  # the accounts this fake knows
        actor = attempted if known else None
        self.events.append(("login.failure", actor, ip, {**detail, "known_account": known}))


@pytest.fixture
def accounts() -> FakeAccounts:
    return FakeAccounts()


@pytest.fixture
def auth(accounts: FakeAccounts) -> AuthService:
    authority = TokenAuthority(
        SigningKey.generate(), issuer="dockyard", service="dockyard", ttl=300, refresh_ttl=3600, leeway=60
    )
    return AuthService(accounts, authority, LoginThrottle(3, 300, 300), PullRateLimiter(0, 0, 21600))


def actions(scopes: list[Scope]) -> dict[str, set[str]]:
    return {s.name: set(s.actions) for s in scopes}


@pytest.mark.anyio
async def test_grant_is_the_intersection_of_requested_and_allowed(auth: AuthService) -> None:
    requested = parse_scopes(
        [
            "repository:alice/app:pull,push",
            "repository:bobby/app:pull,push",
            "repository:public:pull,push,delete",
            "repository:library/public:pull",
            "repository:alice/all:*",
            "registry:catalog:*",
        ]
    )
    assert actions(await auth.grant(ALICE, requested)) == {
        "alice/app": {"pull", "push"},
        "bobby/app": set(),
        "public": {"pull"},  # echoed as requested, checked as library/public
        "library/public": {"pull"},
        "alice/all": {"pull", "push", "delete"},
        "catalog": {"*"},
    }
    anonymous = actions(await auth.grant(None, requested))
    assert (
        anonymous["alice/app"] == set() and anonymous["public"] == {"pull"} and anonymous["catalog"] == {"*"}
    )


@pytest.mark.anyio
async def test_unknown_actions_are_never_granted(auth: AuthService) -> None:
    granted = await auth.grant(ALICE, parse_scopes(["repository:alice/app:pull,admin,sudo"]))
    assert actions(granted) == {"alice/app": {"pull"}}


@pytest.mark.anyio
async def test_login_audits_success_and_failure_without_the_secret(
    auth: AuthService, accounts: FakeAccounts
) -> None:
    assert await auth.login("alice", "right-password", "10.0.0.1") == ALICE
    with pytest.raises(RegistryError) as failure:
        await auth.login("alice", "wrong-password", "10.0.0.1")
    assert failure.value.code is ErrorCode.UNAUTHORIZED
    assert failure.value.message == "incorrect username or password"
    assert [(kind, actor, ip) for kind, actor, ip, _ in accounts.events] == [
        ("login.success", "alice", "10.0.0.1"),
        ("login.failure", "alice", "10.0.0.1"),
    ]
    assert "right-password" not in repr(accounts.events) and "wrong-password" not in repr(accounts.events)


@pytest.mark.anyio
async def test_failed_logins_lock_the_account_and_the_ip(auth: AuthService) -> None:
    for _ in range(3):
        with pytest.raises(RegistryError):
            await auth.login("alice", "nope", "10.0.0.1")
    for user, ip in (("alice", "10.0.0.2"), ("bobby", "10.0.0.1")):
        with pytest.raises(RegistryError) as locked:
            await auth.login(user, "right-password", ip)
        assert locked.value.code is ErrorCode.TOOMANYREQUESTS
        assert int(locked.value.headers["Retry-After"]) > 0


@pytest.mark.anyio
async def test_oversized_credentials_fail_without_reaching_accounts(auth: AuthService) -> None:
    with pytest.raises(RegistryError) as failure:
        await auth.login("alice", "x" * 100_000, None)
    assert failure.value.code is ErrorCode.UNAUTHORIZED


@pytest.mark.anyio
async def test_refresh_token_is_bound_to_the_pat_and_dies_with_it(
    auth: AuthService, accounts: FakeAccounts
) -> None:
    grant = await auth.issue(PAT, [], offline=True)
    assert grant.refresh_token is not None
    assert await auth.refreshed(grant.refresh_token, None) == PAT
    accounts.revoked.add(5)
    with pytest.raises(RegistryError) as failure:
        await auth.refreshed(grant.refresh_token, None)
    assert failure.value.code is ErrorCode.UNAUTHORIZED


@pytest.mark.anyio
async def test_no_refresh_token_for_anonymous_or_online_requests(auth: AuthService) -> None:
    assert (await auth.issue(None, [], offline=True)).refresh_token is None
    assert (await auth.issue(ALICE, [], offline=False)).refresh_token is None


@pytest.mark.anyio
async def test_access_token_is_no_refresh_token(auth: AuthService) -> None:
    grant = await auth.issue(ALICE, [], offline=False)
    with pytest.raises(RegistryError):
        await auth.refreshed(grant.token, None)
