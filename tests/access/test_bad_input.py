"""Hostile and malformed input: path tricks, look-alike names, oversized and malformed credentials.

A real server (raw requests no client library would send reach its HTTP parser), with debug
logging; the last test greps its log for every password and token the module used, so it must
stay last in the file (pytest runs a module's tests in order).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import jwt
import pytest

from tests.access.helpers import (
    World,
    assert_unauthorized,
    basic_header,
    challenge_of,
    error_codes,
    raw_http,
    request_token,
    running_world,
)
from tests.access.tokens import decode
from tests.registry.helpers import push_image

pytestmark = pytest.mark.e2e  # a real server: raw requests reach its HTTP parser

CYRILLIC_A = "\u0430"  # looks like "a"
KELVIN = "\u212a"  # "K"; str.lower() turns it into an ASCII "k"
# Oversized secrets start with this, so the log grep can find even a truncated copy.
MARK = f"Oversized-{uuid.uuid4().hex}"
LOG_ENV = {"DOCKYARD_LOG_LEVEL": "debug", "DOCKYARD_LOGIN_MAX_FAILURES": "10000"}


@dataclass
class Secrets:
    """Every secret this module sends, so the last test can grep the log for them."""

    values: set[str] = field(default_factory=set)

    def add(self, *values: str) -> None:
        self.values.update(v for v in values if len(v) >= 8)


@pytest.fixture(scope="module")
def secrets_seen() -> Secrets:
    return Secrets()


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, template_database: Path, secrets_seen: Secrets
) -> Iterator[World]:
    data = tmp_path_factory.mktemp("access-bad-input") / "data"
    with running_world(data, LOG_ENV, template=template_database) as world:
        with world.batch() as cli:
            for user in ("alice", "bobby", "kelly"):
                cli.user(user)
            cli.run("org", "create", "acme", "--owner", "alice")
            cli.run("repo", "create", "acme/private", "--private")
            cli.pat("alice", "alice", "repo:admin")
        with world.client(world.token("repository:acme/private:pull,push", user="alice")) as alice:
            push_image(alice, "acme/private", "v1")
        secrets_seen.add(*world.secrets(), MARK)
        yield world


def token_for(world: World, secrets_seen: Secrets, *scopes: str, user: str | None = None) -> str:
    token = world.token(*scopes, user=user)
    secrets_seen.add(token)
    return token


# ----------------------------------------------------------------------------------------------------
# Names: the CLI refuses them, the token server maps none onto a real account or repository
# ----------------------------------------------------------------------------------------------------

BAD_USER_NAMES = {
    "upper-case": "Alice2",
    "cyrillic-a": f"{CYRILLIC_A}lice",
    "kelvin-sign": f"{KELVIN}elly2",
    "dot-dot": "al..ce",
    "path": "../etc",
    "percent": "al%2ece",
    "too-short": "abc",
    "too-long": "a" * 31,
    "reserved": "library",
    "space": "alice x",
    "empty": "",
    "taken": "alice",
}
BAD_REPOSITORY_NAMES = {
    "dot-dot": "acme/../alice/x",
    "percent-dot": "acme/%2e%2e/x",
    "upper-case": "acme/Private2",
    "cyrillic-namespace": f"{CYRILLIC_A}cme/x",
    "cyrillic-name": f"acme/priv{CYRILLIC_A}te2",
    "upper-namespace": "ACME/x",
    "empty-component": "acme//x",
}


def test_cli_refuses_bad_user_and_repository_names_cleanly(world: World) -> None:
    with world.batch() as cli:
        users = {
            case: cli.run(
                "user", "create", name, "--password-stdin", stdin="long-enough-password", check=False
            )
            for case, name in BAD_USER_NAMES.items()
        }
        repos = {
            case: cli.run("repo", "create", name, "--private", check=False)
            for case, name in BAD_REPOSITORY_NAMES.items()
        }
        listed_users = cli.run("user", "list")
        listed_repos = cli.run("repo", "list")

    for case, index in [*users.items(), *repos.items()]:
        result = cli.results[index]
        assert result.code == 1, f"{case}: expected a clean refusal (exit 1)\n{result}"
        assert "Error" in result.stderr, f"{case}: no error message\n{result}"
        assert "Traceback" not in result.stderr + result.stdout, f"{case}\n{result}"
    user_table = cli.results[listed_users].stdout
    for case, name in BAD_USER_NAMES.items():
        if name and case != "taken":
            assert name not in user_table.split(), f"{case}: {name!r} was created\n{user_table}"
    repo_table = cli.results[listed_repos].stdout
    for name in BAD_REPOSITORY_NAMES.values():
        assert name not in repo_table, f"{name!r} was created\n{repo_table}"


@pytest.mark.parametrize("username", ["ALICE", "Alice"])
def test_docker_ids_are_case_insensitive_at_login_but_name_one_account(
    world: World, secrets_seen: Secrets, username: str
) -> None:
    """`docker login -u Alice` is alice (Docker IDs are lowercase), never a second identity."""
    response = request_token(
        world.server, ["repository:acme/private:pull"], auth=(username, world.passwords["alice"])
    )

    if response.status_code == 200:
        token = response.json()["token"]
        secrets_seen.add(token)
        assert decode(token, world.data_dir)["sub"] == "alice"
    else:
        assert response.status_code == 401, (response.status_code, response.text)


@pytest.mark.parametrize(
    "username",
    [f"{CYRILLIC_A}lice", " alice", "alice ", "alice\x00", "alice%00", "alice\n"],
    ids=["cyrillic", "leading-space", "trailing-space", "nul", "percent-nul", "newline"],
)
def test_look_alike_user_names_do_not_log_in_as_alice(world: World, username: str) -> None:
    response = request_token(
        world.server, ["repository:acme/private:pull"], auth=(username, world.passwords["alice"])
    )

    assert response.status_code == 401, (response.status_code, response.text)
    assert error_codes(response) == ["UNAUTHORIZED"]


def test_kelvin_sign_does_not_log_in_as_kelly(world: World) -> None:
    response = request_token(world.server, [], auth=(f"{KELVIN}elly", world.passwords["kelly"]))

    assert response.status_code == 401, (response.status_code, response.text)


def test_a_personal_access_token_works_only_with_its_owners_name(world: World) -> None:
    response = request_token(
        world.server, ["repository:acme/private:pull"], auth=("bobby", world.pats["alice"])
    )

    assert response.status_code == 401, (response.status_code, response.text)


SCOPE_TRICKS = {
    "dot-dot": "repository:bobby/x/../../acme/private:pull",
    "percent-dot": "repository:bobby/x/%2e%2e/%2e%2e/acme/private:pull",
    "upper-case": "repository:ACME/private:pull",
    "cyrillic": f"repository:{CYRILLIC_A}cme/private:pull",
    "double-slash": "repository:acme//private:pull",
    "trailing-slash": "repository:acme/private/:pull",
    "extra-colon": "repository:acme/private:pull:pull",
    "space-separated": "repository:bobby/x:pull repository:acme/private:pull",
    "wildcard": "repository:acme/private:*",
    "class": "repository(plugin):acme/private:pull",
    "registry-type": "registry:acme/private:pull",
    "trailing-newline": "repository:acme/private\n:pull",
    "nul": "repository:acme/private\x00:pull",
}


@pytest.mark.parametrize("scope", SCOPE_TRICKS.values(), ids=SCOPE_TRICKS.keys())
def test_scope_tricks_never_grant_an_outsider_the_private_repository(
    world: World, secrets_seen: Secrets, scope: str
) -> None:
    token = token_for(world, secrets_seen, scope, user="bobby")

    claims = decode(token, world.data_dir)
    for entry in claims.get("access", []):
        if "acme" in entry["name"].lower() or CYRILLIC_A in entry["name"]:
            assert entry["actions"] == [], entry
    with world.client(token) as client:
        response = client.get("/v2/acme/private/tags/list")
    assert_unauthorized(response, world.server, error="insufficient_scope", codes=("UNAUTHORIZED",))


MALFORMED_NAMES = {
    "trailing-newline": "alice/app\n",
    "upper-case": "alice/App",
    "dot-dot": "alice/../alice/app",
    "cyrillic": f"alice/{CYRILLIC_A}pp",
    "trailing-slash": "alice/app/",
}


@pytest.mark.parametrize("name", MALFORMED_NAMES.values(), ids=MALFORMED_NAMES.keys())
def test_scopes_naming_no_valid_repository_are_left_out_of_the_token(
    world: World, secrets_seen: Secrets, name: str
) -> None:
    """Even in the caller's own namespace: a grant for a name the grammar rejects is a grant for
    nothing (scopes.py: "malformed entries are ignored: they grant nothing")."""
    token = token_for(world, secrets_seen, f"repository:{name}:pull,push", user="alice")

    names = [entry["name"] for entry in decode(token, world.data_dir).get("access", [])]
    assert names == [], names


def raw_get(world: World, path: str, token: str | None = None) -> tuple[int, bytes]:
    """GET with the path sent byte for byte: no client-side normalisation of `..` or escapes."""
    response = raw_http(world.server, "GET", path, {"Authorization": f"Bearer {token}"} if token else {})
    assert response is not None, f"GET {path}: the server closed the connection without answering"
    return response.status, response.body


PATH_TRICKS = {
    "dot-dot": "/v2/bobby/x/../../acme/private/tags/list",
    "dot-dot-manifest": "/v2/bobby/x/../../acme/private/manifests/v1",
    "percent-dot": "/v2/bobby/x/%2e%2e/%2e%2e/acme/private/tags/list",
    "percent-dot-upper": "/v2/bobby/x/%2E%2E/%2E%2E/acme/private/manifests/v1",
    "encoded-slash": "/v2/acme%2Fprivate/tags/list",
    "dot-segment": "/v2/acme/./private/tags/list",
    "cyrillic": f"/v2/{quote(CYRILLIC_A)}cme/private/tags/list",
    "upper-case": "/v2/ACME/private/tags/list",
    "double-slash": "/v2/acme//private/tags/list",
    "backslash": "/v2/bobby/x/..%5c..%5cacme/private/tags/list",
    "trailing-newline": "/v2/acme/private/tags/list%0A",
    "newline-in-name": "/v2/acme/private%0A/tags/list",
    "nul-in-name": "/v2/acme/private%00/tags/list",
    "trailing-slash": "/v2/acme/private/tags/list/",
}


@pytest.mark.parametrize("path", PATH_TRICKS.values(), ids=PATH_TRICKS.keys())
def test_path_tricks_do_not_reach_the_private_repository(
    world: World, secrets_seen: Secrets, path: str
) -> None:
    token = token_for(world, secrets_seen, "repository:bobby/x:pull,push,delete", user="bobby")

    status, body = raw_get(world, path, token)

    # A redirect (Starlette drops a trailing slash) carries no content and is the same for any name.
    assert status in (400, 401, 404) or (path.endswith("/") and status in (307, 308)), (status, body[:300])
    assert b'"v1"' not in body and b"schemaVersion" not in body, body[:300]


@pytest.mark.parametrize(
    "path",
    ["/v2/ACME/private/tags/list", f"/v2/{quote(CYRILLIC_A)}cme/private/tags/list"],
    ids=["upper", "cyrillic"],
)
def test_names_that_break_the_grammar_are_name_invalid_even_for_the_owner(
    world: World, secrets_seen: Secrets, path: str
) -> None:
    token = token_for(world, secrets_seen, "repository:acme/private:pull", user="alice")

    status, body = raw_get(world, path, token)

    assert status == 400, (status, body[:300])
    assert b"NAME_INVALID" in body


# ----------------------------------------------------------------------------------------------------
# Oversized credentials: a clean 4xx, fast, and the server stays healthy
# ----------------------------------------------------------------------------------------------------


def assert_healthy(world: World) -> None:
    response = httpx.get(f"{world.server.url}/v2/", timeout=10)
    assert_unauthorized(response, world.server)
    assert world.token("repository:acme/private:pull", user="alice")


def form(**fields: str) -> bytes:
    return urlencode(fields).encode()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
OVERSIZED: dict[str, tuple[str, str, dict[str, str], bytes]] = {
    "basic-1mib": ("GET", "/token", {"Authorization": basic_header("alice", MARK + "p" * (1 << 20))}, b""),
    "basic-password-100kb": (
        "GET", "/token", {"Authorization": basic_header("alice", MARK + "p" * 100_000)}, b"",
    ),
    "basic-username-100kb": (
        "GET", "/token", {"Authorization": basic_header("a" * 100_000, "password1")}, b"",
    ),
    "form-password-100kb": (
        "POST", "/token", FORM, form(grant_type="password", username="alice", password=MARK + "p" * 100_000),
    ),
    "form-body-2mib": ("POST", "/token", FORM, form(grant_type="password", username="a" * (2 << 20))),
    "refresh-token-100kb": (
        "POST", "/token", FORM, form(grant_type="refresh_token", refresh_token=MARK + "r" * 100_000),
    ),
    "bearer-1mib": ("GET", "/v2/", {"Authorization": "Bearer " + MARK + "t" * (1 << 20)}, b""),
    "bearer-100kb-manifest": (
        "GET", "/v2/acme/private/manifests/v1", {"Authorization": "Bearer " + MARK + "t" * 100_000}, b"",
    ),
    "url-1mib": ("GET", "/token?" + urlencode({"scope": "x" * (1 << 20)}), {}, b""),
    "scopes-10000": (
        "GET", "/token?" + "&".join(f"scope=repository:bobby/r{i}:pull" for i in range(10_000)), {}, b"",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", OVERSIZED)
def test_oversized_credentials_get_a_clean_4xx_quickly(world: World, case: str) -> None:
    method, target, headers, body = OVERSIZED[case]
    started = time.monotonic()

    response = raw_http(world.server, method, target, headers, body)

    assert time.monotonic() - started < 5
    assert response is not None, "the server dropped the connection instead of answering with a 4xx"
    assert 400 <= response.status < 500 or (case == "scopes-10000" and response.status == 200), (
        response.status,
        response.body[:300],
    )
    assert_healthy(world)


def test_many_scopes_give_a_bounded_token(world: World) -> None:
    scopes = [f"repository:bobby/r{i}:pull,push" for i in range(500)]
    response = request_token(world.server, scopes, auth=world.basic("bobby"))

    assert response.status_code in (200, 400, 414, 431), response.status_code
    if response.status_code == 200:
        token = response.json()["token"]
        assert len(token) < 64 * 1024
        assert len(jwt.decode(token, options={"verify_signature": False})["access"]) <= 100


# ----------------------------------------------------------------------------------------------------
# Malformed Authorization headers: 401 in the protocol's format
# ----------------------------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


MALFORMED_BEARER = {
    "bearer-alone": "Bearer",
    "bearer-space": "Bearer ",
    "bearer-two-tokens": "Bearer a.b.c d.e.f",
    "bearer-comma": "Bearer ,",
    "bearer-dots": "Bearer ...",
    "bearer-jwt-shaped-garbage": "Bearer eyJhbGciOiJFUzI1NiJ9.eyJ9.AAAA",
    "basic-not-base64": "Basic !!!notbase64",
    "basic-valid-password": "VALID-BASIC",
    "garbage": "garbage",
    "negotiate": "Negotiate YIIBhwYGKwYBBQUC",
    "latin1": "Bearer \xff\xfe\xfd",
}


@pytest.mark.parametrize("path", ["/v2/", "/v2/acme/private/tags/list"], ids=["base", "tags"])
@pytest.mark.parametrize("header", MALFORMED_BEARER.values(), ids=MALFORMED_BEARER.keys())
def test_malformed_authorization_on_the_registry_is_401_with_a_challenge(
    world: World, secrets_seen: Secrets, header: str, path: str
) -> None:
    if header == "VALID-BASIC":  # the registry takes bearer tokens only, even for good credentials
        header = basic_header("alice", world.passwords["alice"])
    response = raw_http(world.server, "GET", path, {"Authorization": header.encode("latin-1")})

    assert response is not None
    assert response.status_code == 401, (response.status_code, response.text)
    params = challenge_of(response)
    assert params.get("error") in (None, "invalid_token"), params
    assert_unauthorized(response, world.server, error=params.get("error"))
    if header.startswith("Bearer") and header.strip() != "Bearer":
        assert params.get("error") == "invalid_token", "a bearer token was sent, and it is not valid"


def test_two_valid_tokens_in_one_header_are_not_accepted(world: World, secrets_seen: Secrets) -> None:
    token = token_for(world, secrets_seen, "repository:acme/private:pull", user="alice")
    with world.client() as client:
        response = client.get(
            "/v2/acme/private/tags/list", headers={"Authorization": f"Bearer {token} {token}"}
        )

    assert_unauthorized(response, world.server, error="invalid_token")


MALFORMED_BASIC = {
    "not-base64": "Basic !!!notbase64",
    "no-colon": "Basic " + b64(b"alicewithoutcolon"),
    "scheme-only": "Basic",
    "scheme-space": "Basic ",
    "bearer": "Bearer sometoken",
    "garbage": "garbage",
    "not-utf8": "Basic " + b64(b"\xff\xfe:\xfd\xfc"),
    "trailing-junk": "Basic " + b64(b"alice:password1") + " junk",
    "empty-user": "Basic " + b64(b":password1"),
    "empty-password": "Basic " + b64(b"alice:"),
    "nul": "Basic " + b64(b"alice\x00:password1"),
}


@pytest.mark.parametrize("header", MALFORMED_BASIC.values(), ids=MALFORMED_BASIC.keys())
def test_malformed_basic_credentials_on_the_token_endpoint_are_401(world: World, header: str) -> None:
    query = urlencode({"service": world.service, "scope": "repository:acme/private:pull"})
    response = raw_http(world.server, "GET", f"/token?{query}", {"Authorization": header})

    assert response is not None
    assert response.status_code == 401, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    assert error_codes(response) == ["UNAUTHORIZED"]


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password", "username": "alice"},
        {"grant_type": "password", "password": "whatever1"},
        {"grant_type": "refresh_token"},
        {"grant_type": "refresh_token", "refresh_token": "not.a.jwt"},
    ],
    ids=["no-password", "no-username", "no-refresh-token", "bad-refresh-token"],
)
def test_incomplete_oauth2_forms_are_401(world: World, form: dict[str, str]) -> None:
    response = httpx.post(f"{world.server.url}/token", data={**form, "service": world.service}, timeout=30)

    assert response.status_code == 401, (response.status_code, response.text)
    assert error_codes(response) == ["UNAUTHORIZED"]


def test_unknown_grant_type_is_a_400(world: World) -> None:
    response = httpx.post(
        f"{world.server.url}/token",
        data={"grant_type": "client_credentials", "service": world.service},
        timeout=30,
    )

    assert response.status_code == 400, (response.status_code, response.text)
    assert response.json()["errors"]


# ----------------------------------------------------------------------------------------------------
# Secrets never reach the log (keep last: it greps for everything the module sent)
# ----------------------------------------------------------------------------------------------------


def test_first_start_says_how_to_create_the_first_administrator(world: World) -> None:
    """``dockyard serve`` on a data folder without users says how to make the first one."""
    log = world.server.log_path.read_text()

    assert "dockyard user create" in log
    assert "--admin" in log


def test_passwords_and_tokens_never_appear_in_the_server_log(world: World, secrets_seen: Secrets) -> None:
    alice = world.passwords["alice"]
    wrong = alice + "-wrong"
    # A login of every kind, so the log has had every chance to leak.
    offline = request_token(
        world.server, ["repository:acme/private:pull"], auth=("alice", alice), offline_token="true"
    )
    assert offline.status_code == 200, offline.text
    refresh = offline.json()["refresh_token"]
    oauth = httpx.post(
        f"{world.server.url}/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh, "service": world.service,
              "scope": "repository:acme/private:pull"},
        timeout=30,
    )  # fmt: skip
    assert oauth.status_code == 200, oauth.text
    password_grant = httpx.post(
        f"{world.server.url}/token",
        data={"grant_type": "password", "username": "alice", "password": alice, "service": world.service,
              "access_type": "offline"},
        timeout=30,
    )  # fmt: skip
    assert password_grant.status_code == 200, password_grant.text
    assert request_token(world.server, [], auth=("alice", wrong)).status_code == 401
    assert request_token(world.server, [], auth=("alice", world.pats["alice"])).status_code == 200
    with world.client(offline.json()["token"]) as client:
        assert client.get("/v2/acme/private/tags/list").status_code == 200
    secrets_seen.add(
        wrong,
        refresh,
        offline.json()["token"],
        oauth.json()["access_token"],
        password_grant.json()["access_token"],
        password_grant.json()["refresh_token"],
        *[basic_header(user, password).split()[1] for user, password in world.passwords.items()],
        basic_header("alice", world.pats["alice"]).split()[1],
    )

    log = world.server.log_path.read_text(errors="replace")

    assert f"--port {world.server.port}" in log, "not this server's log"
    leaked = [secret[:12] + "..." for secret in secrets_seen.values if secret in log]
    assert not leaked, f"secrets found in {world.server.log_path}: {leaked}"
