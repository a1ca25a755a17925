"""Pull rate limits (Docker Hub's headers, HEAD not counted, 429 past the limit), login throttling,
and the audit log of security events (issue 3, deliverables 6 and 7).

One app with low limits, in process (tests/inprocess.py) on a clock the tests move (tests/clock.py).
Anonymous pulls are counted per IP (all of them come from 127.0.0.1 here), so only one test makes
them; login failures lock the IP out for a few seconds, which the throttling tests step through.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.access.helpers import CliResult, World, error_codes, in_process_world, request_token
from tests.clock import FakeClock
from tests.registry.helpers import Image, push_image, sha256

ANONYMOUS_LIMIT = 4
ACCOUNT_LIMIT = 5
WINDOW = 21600  # Docker Hub's six hours, the default
MAX_FAILURES = 5
IP_MAX_FAILURES = 15  # above the module's account-level failures (1 + 5 + 5), so those lock accounts only
LOCKOUT = 3
LIMITS_ENV = {
    "DOCKYARD_PULL_LIMIT_ANONYMOUS": str(ANONYMOUS_LIMIT),
    "DOCKYARD_PULL_LIMIT_AUTHENTICATED": str(ACCOUNT_LIMIT),
    "DOCKYARD_LOGIN_MAX_FAILURES": str(MAX_FAILURES),
    "DOCKYARD_LOGIN_IP_MAX_FAILURES": str(IP_MAX_FAILURES),
    "DOCKYARD_LOGIN_FAILURE_WINDOW_SECONDS": "60",
    "DOCKYARD_LOGIN_LOCKOUT_SECONDS": str(LOCKOUT),
}
ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
PUBLIC = "acme/public"


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    """The one clock of the module's app: lockouts run out when a test moves it."""
    return FakeClock()


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, template_database: Path, clock: FakeClock
) -> Iterator[World]:
    data = tmp_path_factory.mktemp("access-limits") / "data"
    with in_process_world(data, LIMITS_ENV, template=template_database, clock=clock) as world:
        with world.batch() as cli:
            for user in ("alice", "puller1", "puller2", "victim", "victim2", "bystander"):
                cli.user(user)
            cli.run("org", "create", "acme", "--owner", "alice")
            cli.run("team", "create", "acme", "readers")
            cli.run("repo", "create", PUBLIC, "--public")
            # For the audit test: a token to revoke, a grant and a visibility change to find.
            cli.pat("audited", "alice", "repo:write")
            cli.pat("listed", "alice", "repo:read")
            cli.pat("expiring", "alice", "repo:read", "--expires-in-days", "1")
            cli.run("repo", "create", "alice/app", "--public")
            cli.run("team", "grant", "acme", "readers", PUBLIC, "--permission", "read")
            cli.run("repo", "visibility", "alice/app", "--private")
        yield world


@pytest.fixture(scope="module")
def image(world: World) -> Image:
    with world.client(world.token(f"repository:{PUBLIC}:pull,push", user="alice")) as alice:
        return push_image(alice, PUBLIC, "v1")


def quota(response: httpx.Response) -> tuple[str | None, str | None]:
    return response.headers.get("ratelimit-limit"), response.headers.get("ratelimit-remaining")


def manifest(client: httpx.Client, method: str = "GET") -> httpx.Response:
    return client.request(method, f"/v2/{PUBLIC}/manifests/v1", headers={"Accept": ACCEPT})


# ----------------------------------------------------------------------------------------------------
# Pull rate limits
# ----------------------------------------------------------------------------------------------------


def test_account_pull_limit_counts_manifest_gets_not_heads(world: World, image: Image) -> None:
    token = world.token(f"repository:{PUBLIC}:pull", user="puller1")
    with world.client(token) as client:
        head = manifest(client, "HEAD")
        assert head.status_code == 200
        assert quota(head) == (f"{ACCOUNT_LIMIT};w={WINDOW}", f"{ACCOUNT_LIMIT};w={WINDOW}")

        for remaining in range(ACCOUNT_LIMIT - 1, -1, -1):
            response = manifest(client)
            assert response.status_code == 200, response.text
            assert quota(response) == (f"{ACCOUNT_LIMIT};w={WINDOW}", f"{remaining};w={WINDOW}")
            assert quota(manifest(client, "HEAD"))[1] == f"{remaining};w={WINDOW}", "a HEAD was counted"

        refused = manifest(client)
        assert refused.status_code == 429, (refused.status_code, refused.text)
        assert error_codes(refused) == ["TOOMANYREQUESTS"]
        assert quota(refused) == (f"{ACCOUNT_LIMIT};w={WINDOW}", f"0;w={WINDOW}")

        # HEAD still answers (it is how clients check their quota); GET by digest is a pull too;
        # blobs are not limited.
        assert manifest(client, "HEAD").status_code == 200
        by_digest = client.get(f"/v2/{PUBLIC}/manifests/{image.digest}", headers={"Accept": ACCEPT})
        assert by_digest.status_code == 429
        config = client.get(f"/v2/{PUBLIC}/blobs/{sha256(image.config)}")
        assert config.status_code == 200
        assert "ratelimit-limit" not in config.headers

    # The count belongs to the account, not the token: a new token does not reset it.
    with world.client(world.token(f"repository:{PUBLIC}:pull", user="puller1")) as again:
        assert manifest(again).status_code == 429
    # And to this account only.
    with world.client(world.token(f"repository:{PUBLIC}:pull", user="puller2")) as other:
        response = manifest(other)
        assert response.status_code == 200
        assert quota(response)[1] == f"{ACCOUNT_LIMIT - 1};w={WINDOW}"


def test_anonymous_pull_limit_is_per_address(world: World, image: Image) -> None:
    with world.client(world.token(f"repository:{PUBLIC}:pull")) as anonymous:
        first = manifest(anonymous)
        assert first.status_code == 200
        limit, remaining = quota(first)
        assert limit == f"{ANONYMOUS_LIMIT};w={WINDOW}"
        assert remaining is not None
        left = int(remaining.split(";")[0])
        assert left == ANONYMOUS_LIMIT - 1, "no other test in this module pulls anonymously"
        for expected in range(left - 1, -1, -1):
            response = manifest(anonymous)
            assert response.status_code == 200
            assert quota(response)[1] == f"{expected};w={WINDOW}"

        refused = manifest(anonymous)
        assert refused.status_code == 429
        assert error_codes(refused) == ["TOOMANYREQUESTS"]

    # A fresh anonymous token from the same address is the same anonymous puller, whatever
    # address the client claims for itself.
    with world.client(world.token(f"repository:{PUBLIC}:pull")) as again:
        assert manifest(again).status_code == 429
        for header in ("X-Forwarded-For", "X-Real-IP"):
            spoofed = again.get(
                f"/v2/{PUBLIC}/manifests/v1", headers={"Accept": ACCEPT, header: "203.0.113.9"}
            )
            assert spoofed.status_code == 429, header
    # Logging in gets the account's own allowance.
    with world.client(world.token(f"repository:{PUBLIC}:pull", user="alice")) as alice:
        response = manifest(alice)
        assert response.status_code == 200
        assert quota(response)[0] == f"{ACCOUNT_LIMIT};w={WINDOW}"


# ----------------------------------------------------------------------------------------------------
# Audit log (before the throttling test, whose failures lock 127.0.0.1 out for a few seconds)
# ----------------------------------------------------------------------------------------------------


def audit_rows(result: CliResult) -> list[str]:
    return [line for line in result.stdout.splitlines() if "│" in line or "|" in line]


def test_audit_log_records_security_events_without_secrets(world: World) -> None:
    alice_password = world.passwords["alice"]
    pat = world.pats["audited"]

    wrong = request_token(world.server, [], auth=("alice", alice_password + "-typo"))
    assert wrong.status_code == 401
    token = world.token("repository:alice/app:pull,push,delete", user="alice")
    assert request_token(world.server, [], auth=("alice", pat)).status_code == 200
    with world.client(token) as client:
        image = push_image(client, "alice/app", "v1")
        assert client.delete(f"/v2/alice/app/manifests/{image.digest}").status_code == 202

    kinds = [
        "login.success",
        "login.failure",
        "token.created",
        "token.revoked",
        "push",
        "delete",
        "permission.changed",
        "visibility.changed",
    ]
    with world.batch() as cli:
        cli.run("token", "revoke", "alice", world.pat_ids["audited"])
        queries = {kind: cli.run("audit", "--kind", kind, "--limit", "1000") for kind in kinds}
        everything = cli.run("audit", "--limit", "10000")

    rows = {kind: audit_rows(cli.results[index]) for kind, index in queries.items()}
    for kind in kinds:
        assert rows[kind], f"no {kind} event in the audit log:\n{cli.results[queries[kind]].stdout}"
        assert all(kind in row for row in rows[kind]), rows[kind]

    def has(kind: str, *words: str) -> bool:
        return any(all(word in row for word in words) for row in rows[kind])

    assert has("login.success", "alice", "127.0.0.1")
    assert has("login.failure", "alice", "127.0.0.1")
    assert has("token.created", "alice")
    assert has("token.revoked", "alice")
    assert has("push", "alice", "alice/app")
    assert has("delete", "alice", "alice/app", image.digest)
    assert has("permission.changed", PUBLIC, "read")
    assert has("visibility.changed", "alice/app")

    log = cli.results[everything].stdout
    for secret in (alice_password, alice_password + "-typo", pat, token, *world.passwords.values()):
        assert secret not in log, f"a secret ({secret[:12]}...) is in the audit log"


def token_row(listing: str, token: str) -> dict[str, str]:
    """The `token list` row of `token`, found by its non-secret hint, as column -> cell."""
    lines = [line for line in listing.splitlines() if "│" in line or "┃" in line]
    header = [cell.strip() for cell in lines[0].replace("┃", "│").strip("│ ").split("│")]
    hint = token[: len("dckr_pat_") + 12]
    rows = [line for line in lines[1:] if hint in line]
    assert len(rows) == 1, f"no single row for {hint}... in:\n{listing}"
    cells = dict(zip(header, (cell.strip() for cell in rows[0].strip("│ ").split("│")), strict=True))
    # Headers may carry a unit ("Last used (UTC)"): key the row by their first two words.
    return {" ".join(name.split()[:2]): value for name, value in cells.items()}


def test_personal_access_tokens_are_listed_without_the_secret_and_with_their_last_use(world: World) -> None:
    token = world.pats["listed"]
    assert request_token(world.server, [], auth=("alice", token), service=world.service).status_code == 200
    with world.batch() as cli:
        listing = cli.run("token", "list", "alice")

    output = cli.results[listing].stdout
    assert token not in output
    row = token_row(output, token)
    assert row["State"] == "active"
    assert row["Last used"] not in ("", "-"), row


def test_an_expired_personal_access_token_no_longer_logs_in(world: World) -> None:
    token = world.pats["expiring"]
    assert request_token(world.server, [], auth=("alice", token), service=world.service).status_code == 200
    # Let three days pass for this token: the CLI's shortest expiry is a day, too long to wait.
    with sqlite3.connect(world.data_dir / "dockyard.db") as db:
        changed = db.execute(
            "UPDATE access_tokens SET expires_at = datetime(expires_at, '-3 days') WHERE id = ?",
            (int(world.pat_ids["expiring"]),),
        ).rowcount
    assert changed == 1

    refused = request_token(world.server, [], auth=("alice", token), service=world.service)

    assert refused.status_code == 401, refused.text
    assert error_codes(refused) == ["UNAUTHORIZED"]
    with world.batch() as cli:
        listing = cli.run("token", "list", "alice")
    assert token_row(cli.results[listing].stdout, token)["State"] == "expired"


# ----------------------------------------------------------------------------------------------------
# Login throttling (keep last: it locks accounts and 127.0.0.1 out, then waits the lockouts out)
# ----------------------------------------------------------------------------------------------------


def fail_until_throttled(world: World, usernames: Iterator[str], most: int) -> httpx.Response:
    """Wrong passwords until a 429 (which must come within `most` attempts, after only 401s)."""
    statuses = []
    for username in usernames:
        response = request_token(
            world.server, [], auth=(username, "wrong-password-123"), service=world.service
        )
        statuses.append(response.status_code)
        if response.status_code == 429 or len(statuses) > most:
            break
    assert statuses[-1] == 429, f"no 429 after {len(statuses)} wrong passwords: {statuses}"
    assert set(statuses[:-1]) == {401}, statuses
    assert error_codes(response) == ["TOOMANYREQUESTS"]
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= LOCKOUT
    return response


def test_repeated_wrong_passwords_lock_the_account_but_not_its_neighbours(
    world: World, clock: FakeClock
) -> None:
    fail_until_throttled(world, itertools.repeat("victim"), MAX_FAILURES + 1)

    # Locked: even the right password gets no token, by either grant...
    right = request_token(world.server, [], auth=world.basic("victim"), service=world.service)
    assert right.status_code == 429, right.text
    assert "token" not in right.json()
    oauth = world.server.http.post(
        "/token",
        data={"grant_type": "password", "username": "victim", "password": world.passwords["victim"],
              "service": world.service},
        timeout=30,
    )  # fmt: skip
    assert oauth.status_code == 429, oauth.text
    # ... while another account at the same address is not locked (its allowance is larger).
    assert (
        request_token(world.server, [], auth=world.basic("bystander"), service=world.service).status_code
        == 200
    )

    clock.advance(LOCKOUT - 0.5)
    still = request_token(world.server, [], auth=world.basic("victim"), service=world.service)
    assert still.status_code == 429, "locked until the lockout ends"
    clock.advance(1)
    reopened = request_token(world.server, [], auth=world.basic("victim"), service=world.service)
    assert reopened.status_code == 200, reopened.text


def test_guessing_through_the_hub_login_locks_the_account_for_docker_login_too(
    world: World, clock: FakeClock
) -> None:
    """Every door that takes a password counts toward one throttle: the hub API's login (issue 4)
    is no way around the token server's."""
    statuses = []
    for _ in range(MAX_FAILURES):
        response = world.server.http.post(
            "/v2/users/login",
            json={"username": "victim2", "password": "wrong-password-123"},
        )
        statuses.append(response.status_code)
    assert statuses == [401] * MAX_FAILURES, statuses

    locked = request_token(world.server, [], auth=world.basic("victim2"), service=world.service)
    assert locked.status_code == 429, locked.text
    # The account is locked, not the address.
    assert (
        request_token(world.server, [], auth=world.basic("bystander"), service=world.service).status_code
        == 200
    )

    clock.advance(LOCKOUT - 0.5)
    still = request_token(world.server, [], auth=world.basic("victim2"), service=world.service)
    assert still.status_code == 429, "locked until the lockout ends"
    clock.advance(1)
    assert (
        request_token(world.server, [], auth=world.basic("victim2"), service=world.service).status_code == 200
    )


def test_wrong_passwords_from_one_address_lock_the_address(world: World, clock: FakeClock) -> None:
    """Guessing across many names: the per-address allowance stops it (keep last: locks 127.0.0.1)."""
    fail_until_throttled(world, (f"guess{i}" for i in itertools.count()), IP_MAX_FAILURES + 1)

    assert (
        request_token(world.server, [], auth=world.basic("bystander"), service=world.service).status_code
        == 429
    )

    clock.advance(LOCKOUT - 0.5)
    still = request_token(world.server, [], auth=world.basic("bystander"), service=world.service)
    assert still.status_code == 429, "locked until the lockout ends"
    clock.advance(1)
    assert (
        request_token(world.server, [], auth=world.basic("bystander"), service=world.service).status_code
        == 200
    )
