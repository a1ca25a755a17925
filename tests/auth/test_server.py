"""Token auth against a real `dockyard serve`: the token endpoint, the registry guard, limits, audit.

Accounts are made with AccountService on the server's own data folder while it runs, as the CLI
does. Content is pushed over HTTP with the owner's token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import pytest

from dockyard.accounts.service import AccountService
from dockyard.config import Settings
from dockyard.db.engine import make_database
from tests.conftest import DockyardServer

PASSWORD = "correct-horse-battery"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CHALLENGE_RE = re.compile(r'(\w+)="([^"]*)"')


# -- the world ---------------------------------------------------------------------------------------


def accounts_call(data_dir: Path, method: str, *args: Any, **kwargs: Any) -> Any:
    async def call() -> Any:
        database = make_database(Settings(data_dir=data_dir).resolved_database_url)
        try:
            return await getattr(AccountService(database), method)(*args, **kwargs)
        finally:
            database.dispose()

    return anyio.run(call)


def create_user(server: DockyardServer, name: str) -> None:
    accounts_call(server.data_dir, "create_user", name, f"{name}@example.com", PASSWORD)


def start_server(tmp_path: Path, **env: str) -> Iterator[DockyardServer]:
    """A server with token auth, users alice and bobby, and DOCKYARD_* settings from `env`."""
    settings = {f"DOCKYARD_{key.upper()}": value for key, value in {"auth": "token", **env}.items()}
    server = DockyardServer(tmp_path / "dockyard-data", env=settings)
    server.start()
    try:
        create_user(server, "alice")
        create_user(server, "bobby")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockyardServer]:
    """Shared by the module: tests use repository names of their own."""
    yield from start_server(tmp_path_factory.mktemp("auth"))


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[DockyardServer]:
    yield from start_server(tmp_path)


def token(server: DockyardServer, *scopes: str, user: str | None = None, password: str = PASSWORD) -> str:
    auth = (user, password) if user else None
    response = httpx.get(f"{server.url}/token", params=[("scope", s) for s in scopes], auth=auth)
    assert response.status_code == 200, response.text
    value: str = response.json()["token"]
    return value


def claims(value: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(value, options={"verify_signature": False})
    return decoded


def granted(value: str) -> dict[str, list[str]]:
    return {entry["name"]: entry["actions"] for entry in claims(value)["access"]}


_clients: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def client(server: DockyardServer, bearer: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    http = httpx.Client(base_url=server.url, headers=headers)
    _clients.append(http)
    return http


def challenge(response: httpx.Response) -> dict[str, str]:
    value = response.headers["www-authenticate"]
    assert value.startswith("Bearer ")
    return dict(CHALLENGE_RE.findall(value))


def codes(response: httpx.Response) -> list[str]:
    return [error["code"] for error in response.json()["errors"]]


def push_blob(http: httpx.Client, repository: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    response = http.post(f"/v2/{repository}/blobs/uploads/", params={"digest": digest}, content=data)
    assert response.status_code == 201, response.text
    return digest


def push_image(server: DockyardServer, user: str, repository: str, tag: str = "1") -> tuple[str, str]:
    """(layer digest, manifest digest) of a fresh image pushed as `user`."""
    http = client(server, token(server, f"repository:{repository}:pull,push", user=user))
    config = push_blob(http, repository, b"{}")
    layer_data = os.urandom(64)
    layer = push_blob(http, repository, layer_data)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer,
                    "size": len(layer_data),
                }
            ],
        }
    ).encode()
    response = http.put(
        f"/v2/{repository}/manifests/{tag}", content=manifest, headers={"Content-Type": MANIFEST}
    )
    assert response.status_code == 201, response.text
    return layer, response.headers["Docker-Content-Digest"]


# -- challenges ---------------------------------------------------------------------------------------


def test_base_needs_a_token_and_answers_with_a_challenge(server: DockyardServer) -> None:
    response = httpx.get(f"{server.url}/v2/")
    assert response.status_code == 401
    assert challenge(response) == {"realm": f"{server.url}/token", "service": "dockyard"}
    assert codes(response) == ["UNAUTHORIZED"]
    assert response.headers["docker-distribution-api-version"] == "registry/2.0"
    assert client(server, token(server)).get("/v2/").status_code == 200


def test_challenge_names_the_needed_scope(server: DockyardServer) -> None:
    response = httpx.put(f"{server.url}/v2/alice/app/manifests/1", content=b"{}")
    assert response.status_code == 401
    assert challenge(response)["scope"] == "repository:alice/app:pull,push"
    assert "error" not in challenge(response)
    head = httpx.head(f"{server.url}/v2/alice/app/manifests/1")
    assert head.status_code == 401 and challenge(head)["scope"] == "repository:alice/app:pull"


@pytest.mark.parametrize("bearer", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_invalid_tokens_are_refused_as_invalid_token(server: DockyardServer, bearer: str) -> None:
    response = client(server, bearer).get("/v2/alice/app/tags/list")
    assert response.status_code == 401
    assert challenge(response)["error"] == "invalid_token"
    assert codes(response) == ["UNAUTHORIZED"]


def test_token_for_another_repository_is_insufficient(server: DockyardServer) -> None:
    push_image(server, "alice", "alice/mine")
    bearer = token(server, "repository:alice/other:pull", user="alice")
    response = client(server, bearer).get("/v2/alice/mine/manifests/1")
    assert response.status_code == 401
    assert challenge(response)["error"] == "insufficient_scope"
    assert challenge(response)["scope"] == "repository:alice/mine:pull"
    assert codes(response) == ["UNAUTHORIZED"]


def test_public_url_sets_the_realm(tmp_path: Path) -> None:
    for server in start_server(tmp_path, public_url="https://hub.example.com/"):
        response = httpx.get(f"{server.url}/v2/")
        assert challenge(response)["realm"] == "https://hub.example.com/token"


# -- the token endpoint --------------------------------------------------------------------------------


def test_anonymous_token_pulls_public_repositories_only(server: DockyardServer) -> None:
    push_image(server, "alice", "alice/app")
    bearer = token(server, "repository:alice/app:pull,push,delete")
    assert claims(bearer)["sub"] == ""
    assert granted(bearer) == {"alice/app": ["pull"]}
    http = client(server, bearer)
    assert http.get("/v2/alice/app/manifests/1", headers={"Accept": MANIFEST}).status_code == 200
    denied = http.delete("/v2/alice/app/manifests/1")
    assert denied.status_code == 401 and challenge(denied)["error"] == "insufficient_scope"


def test_token_response_shape(server: DockyardServer) -> None:
    response = httpx.get(
        f"{server.url}/token",
        params={"service": "dockyard", "scope": "repository:alice/app:pull", "offline_token": "true"},
        auth=("alice", PASSWORD),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["issued_at"])
    assert "refresh_token" in body
    assert response.headers["cache-control"] == "no-store"
    token_claims = claims(body["token"])
    assert token_claims["aud"] == "dockyard" and token_claims["iss"] == "dockyard"
    assert token_claims["sub"] == "alice"


def test_no_refresh_token_without_offline_token(server: DockyardServer) -> None:
    response = httpx.get(f"{server.url}/token", auth=("alice", PASSWORD))
    assert "refresh_token" not in response.json()


def test_wrong_password_gives_dockers_message(server: DockyardServer) -> None:
    response = httpx.get(f"{server.url}/token", auth=("alice", "not-the-password"))
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert response.json()["errors"][0]["message"] == "incorrect username or password"
    unknown = httpx.get(f"{server.url}/token", auth=("nobody", "whatever-password"))
    assert unknown.status_code == 401 and unknown.json() == response.json()


@pytest.mark.parametrize(
    "header",
    [
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Digest abc",
        "Basic " + "A" * 20000,
    ],
)
def test_malformed_authorization_headers(server: DockyardServer, header: str) -> None:
    response = httpx.get(f"{server.url}/token", headers={"Authorization": header})
    assert response.status_code in (400, 401, 431)


def test_post_password_grant(server: DockyardServer) -> None:
    form = {
        "grant_type": "password",
        "username": "alice",
        "password": PASSWORD,
        "service": "dockyard",
        "scope": "repository:alice/app:pull,push repository:bobby/app:pull,push",
        "client_id": "test",
        "access_type": "offline",
    }
    response = httpx.post(f"{server.url}/token", data=form)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"access_token", "expires_in", "issued_at", "scope", "refresh_token"}
    assert body["scope"] == "repository:alice/app:pull,push"  # what was granted
    assert granted(body["access_token"]) == {"alice/app": ["pull", "push"], "bobby/app": []}
    wrong = httpx.post(f"{server.url}/token", data={**form, "password": "nope-nope"})
    assert wrong.status_code == 401


def test_post_refresh_token_grant(server: DockyardServer) -> None:
    login = httpx.get(f"{server.url}/token", params={"offline_token": "true"}, auth=("alice", PASSWORD))
    refresh = login.json()["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": refresh, "service": "dockyard", "client_id": "t"}
    response = httpx.post(f"{server.url}/token", data={**form, "scope": "repository:alice/app:push"})
    assert response.status_code == 200, response.text
    assert granted(response.json()["access_token"]) == {"alice/app": ["push"]}
    assert "refresh_token" not in response.json()
    # an access token is no refresh token, and a tampered one fails
    access = response.json()["access_token"]
    for bad in (access, refresh[:-4] + "AAAA"):
        refused = httpx.post(f"{server.url}/token", data={**form, "refresh_token": bad})
        assert refused.status_code == 401


def test_refresh_token_from_a_pat_dies_with_the_pat(server: DockyardServer) -> None:
    created = accounts_call(server.data_dir, "create_token", "alice", "ci", ["repo:write"])
    pat = next(v for v in (created if isinstance(created, tuple) else (created,)) if isinstance(v, str))
    login = httpx.get(f"{server.url}/token", params={"offline_token": "true"}, auth=("alice", pat))
    assert login.status_code == 200, login.text
    form = {
        "grant_type": "refresh_token",
        "refresh_token": login.json()["refresh_token"],
        "service": "dockyard",
    }
    assert httpx.post(f"{server.url}/token", data=form).status_code == 200
    token_id = claims(login.json()["token"])["dockyard"]["tid"]
    accounts_call(server.data_dir, "revoke_token", "alice", token_id)
    assert httpx.post(f"{server.url}/token", data=form).status_code == 401
    assert httpx.get(f"{server.url}/token", auth=("alice", pat)).status_code == 401


def test_unsupported_grant_type(server: DockyardServer) -> None:
    response = httpx.post(f"{server.url}/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 400


# -- rules the registry enforces ---------------------------------------------------------------------


def test_push_into_another_namespace_is_denied(server: DockyardServer) -> None:
    bearer = token(server, "repository:alice/notyours:pull,push", user="bobby")
    assert granted(bearer) == {"alice/notyours": []}
    response = client(server, bearer).post("/v2/alice/notyours/blobs/uploads/")
    assert response.status_code == 401
    assert challenge(response)["error"] == "insufficient_scope"
    assert codes(response) == ["UNAUTHORIZED"]


def test_official_names_work_in_both_spellings(server: DockyardServer) -> None:
    accounts_call(server.data_dir, "set_admin", "alice", True)
    push_image(server, "alice", "library/rocky")
    for name in ("rocky", "library/rocky"):
        bearer = token(server, f"repository:{name}:pull")
        assert granted(bearer) == {name: ["pull"]}
        for path in ("rocky", "library/rocky"):
            response = client(server, bearer).get(f"/v2/{path}/manifests/1", headers={"Accept": MANIFEST})
            assert response.status_code == 200, (name, path)


def test_private_repository_looks_like_a_missing_one(server: DockyardServer) -> None:
    push_image(server, "alice", "alice/secret")
    accounts_call(server.data_dir, "set_visibility", "alice/secret", True)
    for user in (None, "bobby"):
        private = token(server, "repository:alice/secret:pull", user=user)
        missing = token(server, "repository:alice/nothing:pull", user=user)
        assert granted(private) == {"alice/secret": []}
        a = client(server, private).get("/v2/alice/secret/manifests/1")
        b = client(server, missing).get("/v2/alice/nothing/manifests/1")
        assert a.status_code == b.status_code == 401
        assert a.text.replace("alice/secret", "X") == b.text.replace("alice/nothing", "X")
        assert challenge(a)["error"] == challenge(b)["error"] == "insufficient_scope"


def test_catalog_lists_only_readable_repositories(fresh: DockyardServer) -> None:
    server = fresh
    push_image(server, "alice", "alice/open")
    push_image(server, "alice", "alice/hidden")
    accounts_call(server.data_dir, "set_visibility", "alice/hidden", True)
    unauthenticated = httpx.get(f"{server.url}/v2/_catalog")
    assert unauthenticated.status_code == 401 and challenge(unauthenticated)["scope"] == "registry:catalog:*"

    def catalog(user: str | None, **params: str) -> list[str]:
        response = client(server, token(server, "registry:catalog:*", user=user)).get(
            "/v2/_catalog", params=params
        )
        assert response.status_code == 200, response.text
        repositories: list[str] = response.json()["repositories"]
        return repositories

    assert catalog(None) == catalog("bobby") == ["alice/open"]
    assert catalog("alice") == ["alice/hidden", "alice/open"]
    assert catalog("alice", n="1") == ["alice/hidden"]
    without_scope = client(server, token(server, user="alice")).get("/v2/_catalog")
    assert without_scope.status_code == 401


def test_mount_only_from_readable_repositories(server: DockyardServer) -> None:
    public_layer, _ = push_image(server, "alice", "alice/open")
    secret_layer, _ = push_image(server, "alice", "alice/secret")
    accounts_call(server.data_dir, "set_visibility", "alice/secret", True)
    bearer = token(
        server,
        "repository:bobby/copy:pull,push",
        "repository:alice/open:pull",
        "repository:alice/secret:pull",
        user="bobby",
    )
    http = client(server, bearer)

    def mount(digest: str, source: str | None) -> int:
        params = {"mount": digest, **({"from": source} if source else {})}
        return http.post("/v2/bobby/copy/blobs/uploads/", params=params).status_code

    assert mount(secret_layer, "alice/secret") == 202  # falls back to an upload
    assert mount(secret_layer, None) == 202
    assert mount(public_layer, "alice/open") == 201
    assert http.head(f"/v2/bobby/copy/blobs/{secret_layer}").status_code == 404
    owner = client(
        server, token(server, "repository:alice/copy:pull,push", "repository:alice/secret:pull", user="alice")
    )
    response = owner.post(
        "/v2/alice/copy/blobs/uploads/", params={"mount": secret_layer, "from": "alice/secret"}
    )
    assert response.status_code == 201


def test_push_and_delete_are_audited(server: DockyardServer) -> None:
    _, digest = push_image(server, "alice", "alice/audited")
    http = client(server, token(server, "repository:alice/audited:delete", user="alice"))
    assert http.delete(f"/v2/alice/audited/manifests/{digest}").status_code == 202
    events = accounts_call(server.data_dir, "list_events", 100)
    kinds = [(e.kind, e.actor, e.target) for e in events]
    assert ("push", "alice", "alice/audited") in kinds
    assert ("delete", "alice", "alice/audited") in kinds
    assert any(e.kind == "login.success" and e.ip == "127.0.0.1" for e in events)


# -- limits ---------------------------------------------------------------------------------------------


def test_pull_rate_limit_headers_and_429(tmp_path: Path) -> None:
    for server in start_server(tmp_path, pull_limit_anonymous="2", pull_limit_window_seconds="3600"):
        push_image(
            server, "alice", "alice/app"
        )  # authenticated pushes are not limited by the anonymous limit
        http = client(server, token(server, "repository:alice/app:pull"))
        url, accept = "/v2/alice/app/manifests/1", {"Accept": MANIFEST}
        head = http.head(url, headers=accept)
        assert head.headers["ratelimit-limit"] == "2;w=3600"
        assert head.headers["ratelimit-remaining"] == "2;w=3600"
        assert http.get(url, headers=accept).headers["ratelimit-remaining"] == "1;w=3600"
        assert http.head(url, headers=accept).headers["ratelimit-remaining"] == "1;w=3600"
        assert http.get(url, headers=accept).headers["ratelimit-remaining"] == "0;w=3600"
        refused = http.get(url, headers=accept)
        assert refused.status_code == 429
        assert codes(refused) == ["TOOMANYREQUESTS"]
        assert refused.headers["ratelimit-remaining"] == "0;w=3600"
        assert http.head(url, headers=accept).status_code == 200  # HEAD is not counted
        # blobs are not limited, and authenticated users have no limit here
        alice = client(server, token(server, "repository:alice/app:pull", user="alice"))
        response = alice.get(url, headers=accept)
        assert response.status_code == 200 and "ratelimit-limit" not in response.headers


def test_no_rate_limit_headers_by_default(server: DockyardServer) -> None:
    push_image(server, "alice", "alice/app")
    response = client(server, token(server, "repository:alice/app:pull")).get(
        "/v2/alice/app/manifests/1", headers={"Accept": MANIFEST}
    )
    assert response.status_code == 200 and "ratelimit-limit" not in response.headers


def test_login_throttling(tmp_path: Path) -> None:
    for server in start_server(tmp_path, login_max_failures="3"):
        for _ in range(3):
            assert httpx.get(f"{server.url}/token", auth=("alice", "wrong-password")).status_code == 401
        locked = httpx.get(f"{server.url}/token", auth=("alice", PASSWORD))
        assert locked.status_code == 429
        assert locked.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
        assert int(locked.headers["retry-after"]) > 0
        # anonymous tokens still work: only logins are throttled
        assert httpx.get(f"{server.url}/token").status_code == 200


def test_secrets_never_reach_the_log(server: DockyardServer) -> None:
    bearer = token(server, "repository:alice/app:pull,push", user="alice")
    httpx.get(f"{server.url}/token", auth=("alice", "a-wrong-secret-value"))
    client(server, bearer).get("/v2/alice/app/tags/list")
    log = server.log_path.read_text()
    for secret in (PASSWORD, "a-wrong-secret-value", bearer, bearer.split(".")[2]):
        assert secret not in log


def test_workers_share_one_signing_key(tmp_path: Path) -> None:
    """Every worker makes or loads the key at start; tokens from one verify on all the others."""
    for server in start_server(tmp_path, workers="2"):
        tokens = [token(server) for _ in range(12)]
        assert len({jwt.get_unverified_header(t)["kid"] for t in tokens}) == 1
        for bearer in tokens:
            for _ in range(3):  # new connections land on different workers
                assert (
                    httpx.get(f"{server.url}/v2/", headers={"Authorization": f"Bearer {bearer}"}).status_code
                    == 200
                )
        assert len(list((server.data_dir / "auth").iterdir())) == 1
