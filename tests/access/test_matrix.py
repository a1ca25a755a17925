"""Every registry endpoint x every kind of caller: the right status and error, never more access.

One app for the module, in process (tests/inprocess.py; the CLI that fills it runs in process
too); test_bad_input.py and test_docker_login.py keep a real server. The organisation `acme`
(owner alice) has teams `readers` (carol, read), `writers` (dave, write) and `admins` (erin,
admin) on acme/private and acme/public; alice also has alice/private.
`sysop` is a site administrator and seeds content. Each case asks /token for pull,push,delete on
its repository (and pull on the public mount source), then makes one request:

    allowed     the endpoint's success status, and its effect is visible afterwards
    too weak    401 UNAUTHORIZED, challenge with error="insufficient_scope", and no effect
    no token    401 UNAUTHORIZED, challenge without error
    bad token   401 UNAUTHORIZED, challenge with error="invalid_token", and no effect

Private repositories must answer outsiders exactly as missing ones do.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.access.helpers import (
    World,
    assert_unauthorized,
    challenge_of,
    error_codes,
    in_process_world,
    request_token,
)
from tests.access.tokens import Forger, decode
from tests.registry.helpers import (
    OCI_MANIFEST,
    Image,
    image_manifest,
    path_and_query,
    push_blob,
    push_image,
    random_layer,
    sha256,
    start_upload,
    with_query,
)

ORG_PRIVATE = "acme/private"
ORG_PUBLIC = "acme/public"
USER_PRIVATE = "alice/private"
SOURCE = "acme/source"  # public: the `from` of cross-repository mounts
ELSEWHERE = "acme/elsewhere"  # what the "token for another repository" was issued for
REPOSITORIES = (ORG_PRIVATE, ORG_PUBLIC, USER_PRIVATE)
MISSING = {ORG_PRIVATE: "acme/missing", USER_PRIVATE: "alice/missing"}
ADMIN = "sysop"
SECRET_DESCRIPTION = "Matrix private description"
ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
TOKEN_REUSE_SECONDS = 200  # tokens live 300 s by default; fetch a new one well before

NONE: frozenset[str] = frozenset()
PULL = frozenset({"pull"})
PULL_PUSH = frozenset({"pull", "push"})
ALL = frozenset({"pull", "push", "delete"})

# Who may do what: the policy of issue 3 written out for this world.
EXPECTED: dict[str, dict[str, frozenset[str]]] = {
    "anonymous": {ORG_PRIVATE: NONE, ORG_PUBLIC: PULL, USER_PRIVATE: NONE},
    "owner": {ORG_PRIVATE: ALL, ORG_PUBLIC: ALL, USER_PRIVATE: ALL},
    "other-user": {ORG_PRIVATE: NONE, ORG_PUBLIC: PULL, USER_PRIVATE: NONE},
    "team-read": {ORG_PRIVATE: PULL, ORG_PUBLIC: PULL, USER_PRIVATE: NONE},
    "team-write": {ORG_PRIVATE: PULL_PUSH, ORG_PUBLIC: PULL_PUSH, USER_PRIVATE: NONE},
    "team-admin": {ORG_PRIVATE: ALL, ORG_PUBLIC: ALL, USER_PRIVATE: NONE},
    "pat-read": {ORG_PRIVATE: PULL, ORG_PUBLIC: PULL, USER_PRIVATE: PULL},
    "pat-public-read": {ORG_PRIVATE: NONE, ORG_PUBLIC: PULL, USER_PRIVATE: NONE},
    "pat-admin": {ORG_PRIVATE: ALL, ORG_PUBLIC: ALL, USER_PRIVATE: ALL},
    "site-admin": {ORG_PRIVATE: ALL, ORG_PUBLIC: ALL, USER_PRIVATE: ALL},
    "other-repository": {ORG_PRIVATE: NONE, ORG_PUBLIC: NONE, USER_PRIVATE: NONE},
}
VALID = tuple(EXPECTED)
# Tokens the server must reject outright, whatever they claim.
INVALID = (
    "expired",
    "not-yet-valid",
    "wrong-audience",
    "wrong-issuer",
    "bad-signature",
    "alg-none",
    "hs256-public-key",
    "tampered-access",
    "refresh-token",
    "personal-access-token",
    "password",
    "garbage",
)
OUTSIDERS = ("no-token", "anonymous", "other-user", "pat-public-read", "other-repository")


def principal_credentials(world: World, principal: str) -> tuple[str, str] | None:
    return {
        "anonymous": None,
        "owner": ("alice", world.passwords["alice"]),
        "other-user": ("bobby", world.passwords["bobby"]),
        "team-read": ("carol", world.passwords["carol"]),
        "team-write": ("dave", world.passwords["dave"]),
        "team-admin": ("erin", world.passwords["erin"]),
        "pat-read": ("alice", world.pats.get("read", "")),
        "pat-public-read": ("alice", world.pats.get("public-read", "")),
        "pat-admin": ("alice", world.pats.get("admin", "")),
        "site-admin": (ADMIN, world.passwords.get(ADMIN, "")),
        "other-repository": ("alice", world.passwords["alice"]),
    }[principal]


@dataclass
class Matrix:
    world: World
    images: dict[str, Image] = field(default_factory=dict)
    _tokens: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.world.server.url

    def token(self, principal: str, repository: str) -> str | None:
        """The bearer token `principal` presents for a request on `repository` (None: no header)."""
        if principal == "no-token":
            return None
        key = (principal, repository)
        if principal in INVALID:
            if key not in self._tokens:
                self._tokens[key] = (time.monotonic(), self.invalid_token(principal, repository))
            return self._tokens[key][1]
        cached = self._tokens.get(key)
        if cached is None or time.monotonic() - cached[0] > TOKEN_REUSE_SECONDS:
            target = ELSEWHERE if principal == "other-repository" else repository
            scopes = (f"repository:{target}:pull,push,delete", f"repository:{SOURCE}:pull")
            credentials = principal_credentials(self.world, principal)
            user, password = credentials if credentials else (None, None)
            cached = (time.monotonic(), self.world.token(*scopes, user=user, password=password))
            self._tokens[key] = cached
        return cached[1]

    def invalid_token(self, kind: str, repository: str) -> str:
        if kind == "garbage":
            return "not-a-jwt-at-all"
        if kind == "personal-access-token":  # a PAT is a password for /token, never a bearer token
            return self.world.pats["admin"]
        if kind == "password":
            return self.world.passwords["alice"]
        if kind == "refresh-token":  # what docker keeps as its identity token: only /token takes it
            response = request_token(
                self.world.server,
                [f"repository:{repository}:pull,push,delete"],
                auth=("alice", self.world.passwords["alice"]),
                service=self.world.service,
                offline_token="true",
            )
            assert response.status_code == 200, response.text
            return str(response.json()["refresh_token"])
        genuine = self.token("owner", repository)
        assert genuine is not None
        forger = Forger(genuine, self.world.data_dir)
        makers: dict[str, Callable[[], str]] = {
            "expired": forger.expired,
            "not-yet-valid": forger.not_yet_valid,
            "wrong-audience": forger.wrong_audience,
            "wrong-issuer": forger.wrong_issuer,
            "bad-signature": forger.bad_signature,
            "alg-none": forger.unsigned,
            "hs256-public-key": forger.hmac_with_public_key,
            "tampered-access": lambda: self._tampered(forger, repository),
        }
        return makers[kind]()

    def _tampered(self, forger: Forger, repository: str) -> str:
        # carol's genuine read-only token, with its access claim widened to everything.
        carol = self.token("team-read", repository)
        assert carol is not None
        everything = [{"type": "repository", "name": repository, "actions": sorted(ALL)}]
        return Forger(carol, self.world.data_dir).tampered(everything)

    def client(self, principal: str, repository: str) -> AbstractContextManager[httpx.Client]:
        return self.world.client(self.token(principal, repository))

    def admin(self, repository: str) -> AbstractContextManager[httpx.Client]:
        return self.client("site-admin", repository)


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory, template_database: Path) -> Iterator[Matrix]:
    data = tmp_path_factory.mktemp("access-matrix") / "data"
    with in_process_world(data, template=template_database) as world:
        with world.batch() as cli:
            for user in ("alice", "bobby", "carol", "dave", "erin"):
                cli.user(user)
            cli.user(ADMIN, admin=True)
            cli.run("org", "create", "acme", "--owner", "alice")
            cli.run("repo", "create", ORG_PRIVATE, "--private", "--description", SECRET_DESCRIPTION)
            cli.run("repo", "create", ORG_PUBLIC, "--public")
            cli.run("repo", "create", SOURCE, "--public")
            cli.run("repo", "create", USER_PRIVATE, "--private")
            teams = (("readers", "carol", "read"), ("writers", "dave", "write"), ("admins", "erin", "admin"))
            for team, member, permission in teams:
                cli.run("team", "create", "acme", team)
                cli.run("team", "add-member", "acme", team, member)
                for repository in (ORG_PRIVATE, ORG_PUBLIC):
                    cli.run("team", "grant", "acme", team, repository, "--permission", permission)
            cli.pat("read", "alice", "repo:read")
            cli.pat("public-read", "alice", "repo:public_read")
            cli.pat("admin", "alice", "repo:admin")
            cli.run("repo", "default-visibility", "bobby", "--private")
        state = Matrix(world)
        for repository in REPOSITORIES:
            with state.admin(repository) as admin:
                state.images[repository] = push_image(admin, repository, "v1")
        yield state


# ----------------------------------------------------------------------------------------------------
# The endpoints: how to set one up, call it, and see whether it had its effect
# ----------------------------------------------------------------------------------------------------

Prepared = dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    id: str
    needs: frozenset[str]
    ok: int
    send: Callable[[httpx.Client, str, Prepared], httpx.Response]
    prepare: Callable[[Matrix, str], Prepared] = lambda matrix, repository: {}
    # For writes: whether the change is visible afterwards (it must be iff the call was allowed).
    effect: Callable[[Matrix, str, Prepared], bool] | None = None
    # For reads: what a successful answer must contain.
    check: Callable[[Matrix, str, httpx.Response], None] | None = None


def _manifest_status(matrix: Matrix, repository: str, reference: str) -> int:
    with matrix.admin(repository) as admin:
        return admin.head(f"/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT}).status_code


def _blob_status(matrix: Matrix, repository: str, digest: str) -> int:
    with matrix.admin(repository) as admin:
        return admin.head(f"/v2/{repository}/blobs/{digest}").status_code


def _new_manifest(matrix: Matrix, repository: str) -> tuple[bytes, str]:
    image = matrix.images[repository]
    body = image_manifest(image.config, image.layers, annotations={"nonce": uuid.uuid4().hex})
    return body, sha256(body)


def _prepare_put_manifest(matrix: Matrix, repository: str) -> Prepared:
    body, digest = _new_manifest(matrix, repository)
    return {"body": body, "tag": f"t{uuid.uuid4().hex[:12]}", "digest": digest}


def _prepare_pushed_manifest(matrix: Matrix, repository: str) -> Prepared:
    body, digest = _new_manifest(matrix, repository)
    with matrix.admin(repository) as admin:
        response = admin.put(
            f"/v2/{repository}/manifests/{digest}", content=body, headers={"Content-Type": OCI_MANIFEST}
        )
    assert response.status_code == 201, response.text
    return {"digest": digest}


def _prepare_pushed_blob(matrix: Matrix, repository: str) -> Prepared:
    with matrix.admin(repository) as admin:
        return {"digest": push_blob(admin, repository, random_layer(300))}


def _prepare_new_blob(matrix: Matrix, repository: str) -> Prepared:
    data = random_layer(200)
    return {"data": data, "digest": sha256(data)}


def _prepare_session(matrix: Matrix, repository: str) -> Prepared:
    with matrix.admin(repository) as admin:
        location = path_and_query(start_upload(admin, repository).headers["location"])
    data = random_layer(200)
    return {"location": location, "data": data, "digest": sha256(data)}


def _prepare_mount(matrix: Matrix, repository: str) -> Prepared:
    with matrix.admin(SOURCE) as admin:
        return {"digest": push_blob(admin, SOURCE, random_layer(250))}


def _session_range(matrix: Matrix, repository: str, location: str) -> str | None:
    with matrix.admin(repository) as admin:
        response = admin.get(location)
    if response.status_code == 404:
        return None
    assert response.status_code == 204, (response.status_code, response.text)
    return str(response.headers.get("range", ""))


def _check_tags(matrix: Matrix, repository: str, response: httpx.Response) -> None:
    assert "v1" in response.json()["tags"]


def _check_manifest(matrix: Matrix, repository: str, response: httpx.Response) -> None:
    image = matrix.images[repository]
    assert response.headers["docker-content-digest"] == image.digest
    if response.request.method == "GET":
        assert response.content == image.manifest


def _check_blob(matrix: Matrix, repository: str, response: httpx.Response) -> None:
    layer = matrix.images[repository].layers[0]
    assert response.headers["docker-content-digest"] == sha256(layer)
    if response.request.method == "GET":
        assert response.content == layer


def _check_referrers(matrix: Matrix, repository: str, response: httpx.Response) -> None:
    assert response.json()["schemaVersion"] == 2


def _layer(matrix: Matrix, repository: str) -> str:
    return sha256(matrix.images[repository].layers[0])


ENDPOINTS = [
    Endpoint(
        "tags-list", PULL, 200,
        lambda c, r, p: c.get(f"/v2/{r}/tags/list"),
        check=_check_tags,
    ),
    Endpoint(
        "manifest-get", PULL, 200,
        lambda c, r, p: c.get(f"/v2/{r}/manifests/v1", headers={"Accept": ACCEPT}),
        check=_check_manifest,
    ),
    Endpoint(
        "manifest-head", PULL, 200,
        lambda c, r, p: c.head(f"/v2/{r}/manifests/v1", headers={"Accept": ACCEPT}),
        check=_check_manifest,
    ),
    Endpoint(
        "manifest-put", frozenset({"push"}), 201,
        lambda c, r, p: c.put(f"/v2/{r}/manifests/{p['tag']}", content=p["body"],
                              headers={"Content-Type": OCI_MANIFEST}),
        prepare=_prepare_put_manifest,
        effect=lambda m, r, p: _manifest_status(m, r, p["tag"]) == 200,
    ),
    Endpoint(
        "manifest-delete", frozenset({"delete"}), 202,
        lambda c, r, p: c.delete(f"/v2/{r}/manifests/{p['digest']}"),
        prepare=_prepare_pushed_manifest,
        effect=lambda m, r, p: _manifest_status(m, r, p["digest"]) == 404,
    ),
    Endpoint(
        "blob-get", PULL, 200,
        lambda c, r, p: c.get(f"/v2/{r}/blobs/{p['layer']}"),
        prepare=lambda m, r: {"layer": _layer(m, r)},
        check=_check_blob,
    ),
    Endpoint(
        "blob-head", PULL, 200,
        lambda c, r, p: c.head(f"/v2/{r}/blobs/{p['layer']}"),
        prepare=lambda m, r: {"layer": _layer(m, r)},
        check=_check_blob,
    ),
    Endpoint(
        "blob-delete", frozenset({"delete"}), 202,
        lambda c, r, p: c.delete(f"/v2/{r}/blobs/{p['digest']}"),
        prepare=_prepare_pushed_blob,
        effect=lambda m, r, p: _blob_status(m, r, p["digest"]) == 404,
    ),
    Endpoint(
        "upload-post", frozenset({"push"}), 202,
        lambda c, r, p: c.post(f"/v2/{r}/blobs/uploads/"),
    ),
    Endpoint(
        "upload-post-monolithic", frozenset({"push"}), 201,
        lambda c, r, p: c.post(with_query(f"/v2/{r}/blobs/uploads/", digest=p["digest"]), content=p["data"],
                               headers={"Content-Type": "application/octet-stream"}),
        prepare=_prepare_new_blob,
        effect=lambda m, r, p: _blob_status(m, r, p["digest"]) == 200,
    ),
    Endpoint(
        "upload-patch", frozenset({"push"}), 202,
        lambda c, r, p: c.patch(p["location"], content=p["data"],
                                headers={"Content-Type": "application/octet-stream"}),
        prepare=_prepare_session,
        effect=lambda m, r, p: _session_range(m, r, p["location"]) == f"0-{len(p['data']) - 1}",
    ),
    Endpoint(
        "upload-put", frozenset({"push"}), 201,
        lambda c, r, p: c.put(with_query(p["location"], digest=p["digest"]), content=p["data"],
                              headers={"Content-Type": "application/octet-stream"}),
        prepare=_prepare_session,
        effect=lambda m, r, p: _blob_status(m, r, p["digest"]) == 200,
    ),
    Endpoint(
        "upload-get", PULL, 204,
        lambda c, r, p: c.get(p["location"]),
        prepare=_prepare_session,
    ),
    Endpoint(
        "upload-delete", frozenset({"push"}), 204,
        lambda c, r, p: c.delete(p["location"]),
        prepare=_prepare_session,
        effect=lambda m, r, p: _session_range(m, r, p["location"]) is None,
    ),
    Endpoint(
        "mount", frozenset({"push"}), 201,
        lambda c, r, p: c.post(with_query(f"/v2/{r}/blobs/uploads/", mount=p["digest"], **{"from": SOURCE})),
        prepare=_prepare_mount,
        effect=lambda m, r, p: _blob_status(m, r, p["digest"]) == 200,
    ),
    Endpoint(
        "referrers", PULL, 200,
        lambda c, r, p: c.get(f"/v2/{r}/referrers/{p['digest']}"),
        prepare=lambda m, r: {"digest": m.images[r].digest},
        check=_check_referrers,
    ),
]  # fmt: skip


CASES = [
    pytest.param(
        principal, repository, endpoint, id=f"{endpoint.id}-{principal}-{repository.replace('/', '.')}"
    )
    for endpoint in ENDPOINTS
    for principal in ("no-token", *VALID)
    for repository in REPOSITORIES
] + [
    pytest.param(principal, ORG_PRIVATE, endpoint, id=f"{endpoint.id}-{principal}")
    for endpoint in ENDPOINTS
    for principal in INVALID
]


@pytest.mark.parametrize(("principal", "repository", "endpoint"), CASES)
def test_endpoint_access(matrix: Matrix, principal: str, repository: str, endpoint: Endpoint) -> None:
    prepared = endpoint.prepare(matrix, repository)
    with matrix.client(principal, repository) as client:
        response = endpoint.send(client, repository, prepared)

    granted = EXPECTED[principal][repository] if principal in EXPECTED else NONE
    if principal in EXPECTED and endpoint.needs <= granted:
        assert response.status_code == endpoint.ok, (response.status_code, response.text[:500])
        if endpoint.check is not None:
            endpoint.check(matrix, repository, response)
    else:
        if principal == "no-token":
            error, codes = None, ("UNAUTHORIZED",)
        elif principal in INVALID:
            error, codes = "invalid_token", ("UNAUTHORIZED",)
        else:
            error, codes = "insufficient_scope", ("UNAUTHORIZED",)
        assert_denied(response, matrix, repository, endpoint.needs, error, codes)

    if endpoint.effect is not None:
        happened = endpoint.effect(matrix, repository, prepared)
        allowed = principal in EXPECTED and endpoint.needs <= granted
        assert happened == allowed, f"the {endpoint.id} {'did not happen' if allowed else 'happened'}"


def assert_denied(
    response: httpx.Response,
    matrix: Matrix,
    repository: str,
    needs: frozenset[str],
    error: str | None,
    codes: tuple[str, ...],
) -> None:
    scope = f"repository:{repository}:{','.join(sorted(needs))}"
    if response.request.method == "HEAD":  # no body to read: status and challenge only
        assert response.status_code == 401, response.status_code
        params = challenge_of(response)
        assert params.get("error") == error, params
        assert params.get("realm") == f"{matrix.url}/token", params
        assert response.content == b""
        return
    assert_unauthorized(response, matrix.world.server, error=error, scope=scope, codes=codes)


# ----------------------------------------------------------------------------------------------------
# What the token itself grants
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("repository", REPOSITORIES)
@pytest.mark.parametrize("principal", VALID)
def test_token_access_claim_holds_only_what_the_account_has(
    matrix: Matrix, principal: str, repository: str
) -> None:
    token = matrix.token(principal, repository)
    assert token is not None
    claims = decode(token, matrix.world.data_dir)

    granted: set[str] = set()
    for entry in claims.get("access", []):
        if entry["type"] == "repository" and entry["name"] == repository:
            granted |= set(entry["actions"])
    assert granted == EXPECTED[principal][repository]
    # Nothing beyond what was asked for either.
    asked = {repository, SOURCE} if principal != "other-repository" else {ELSEWHERE, SOURCE}
    assert {entry["name"] for entry in claims.get("access", []) if entry["actions"]} <= asked
    assert claims["exp"] > time.time()


@pytest.mark.parametrize("skew", [-30, 30], ids=["expired-30s-ago", "valid-from-30s-on"])
def test_small_clock_skew_between_token_server_and_registry_is_tolerated(matrix: Matrix, skew: int) -> None:
    """A token whose exp just passed, or whose nbf/iat is just ahead, still works (issue: clock skew)."""
    genuine = matrix.token("owner", ORG_PRIVATE)
    assert genuine is not None
    now = int(time.time())
    if skew < 0:
        token = Forger(genuine, matrix.world.data_dir).signed(iat=now - 600, nbf=now - 600, exp=now + skew)
    else:
        token = Forger(genuine, matrix.world.data_dir).signed(iat=now + skew, nbf=now + skew, exp=now + 600)
    with matrix.world.client(token) as client:
        response = client.get(f"/v2/{ORG_PRIVATE}/tags/list")

    assert response.status_code == 200, (response.status_code, response.text)


def test_pull_rate_limits_are_off_by_default(matrix: Matrix) -> None:
    with matrix.client("anonymous", ORG_PUBLIC) as client:
        responses = [
            client.get(f"/v2/{ORG_PUBLIC}/manifests/v1", headers={"Accept": ACCEPT}) for _ in range(3)
        ]

    assert [response.status_code for response in responses] == [200, 200, 200]
    assert all("ratelimit-limit" not in response.headers for response in responses)


# ----------------------------------------------------------------------------------------------------
# /v2/ and _catalog
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("principal", ("no-token", *VALID, *INVALID))
def test_version_check_needs_any_valid_token(matrix: Matrix, principal: str) -> None:
    with matrix.client(principal, ORG_PUBLIC) as client:
        response = client.get("/v2/")

    if principal in EXPECTED:
        assert response.status_code == 200, (response.status_code, response.text)
    else:
        error = None if principal == "no-token" else "invalid_token"
        params = assert_unauthorized(response, matrix.world.server, error=error)
        assert "scope" not in params


def catalog_token(matrix: Matrix, principal: str) -> str:
    credentials = principal_credentials(matrix.world, principal)
    user, password = credentials if credentials else (None, None)
    return matrix.world.token("registry:catalog:*", user=user, password=password)


CATALOG_EXPECTED = {
    principal: sorted(
        {SOURCE} | {repository for repository in REPOSITORIES if "pull" in EXPECTED[principal][repository]}
    )
    for principal in VALID
    if principal != "other-repository"
}


def ours(listed: list[str]) -> list[str]:
    """The catalog restricted to the namespaces this module seeds (others tests push into their own)."""
    return sorted(name for name in listed if name.split("/")[0] in ("acme", "alice"))


@pytest.mark.parametrize("principal", CATALOG_EXPECTED)
def test_catalog_lists_only_what_the_caller_may_read(matrix: Matrix, principal: str) -> None:
    with matrix.world.client(catalog_token(matrix, principal)) as client:
        response = client.get("/v2/_catalog", params={"n": "1000"})

    assert response.status_code == 200, (response.status_code, response.text)
    assert ours(response.json()["repositories"]) == CATALOG_EXPECTED[principal]


def test_catalog_pages_skip_what_the_caller_may_not_read(matrix: Matrix) -> None:
    seen: list[str] = []
    url: str | None = "/v2/_catalog?n=1"
    with matrix.world.client(catalog_token(matrix, "anonymous")) as client:
        while url is not None and len(seen) < 20:
            response = client.get(url)
            assert response.status_code == 200, (response.status_code, response.text)
            seen += response.json()["repositories"]
            link = response.headers.get("link")
            url = link.split(">")[0].lstrip("<") if link else None
    assert ours(seen) == CATALOG_EXPECTED["anonymous"]
    assert len(seen) == len(set(seen))


def test_catalog_without_a_token_is_challenged_for_the_catalog_scope(matrix: Matrix) -> None:
    response = matrix.world.server.http.get("/v2/_catalog")

    assert_unauthorized(response, matrix.world.server, error=None, scope="registry:catalog:*")


def test_catalog_with_a_repository_token_is_insufficient_scope(matrix: Matrix) -> None:
    with matrix.client("owner", ORG_PRIVATE) as client:
        response = client.get("/v2/_catalog")

    assert_unauthorized(
        response,
        matrix.world.server,
        error="insufficient_scope",
        scope="registry:catalog:*",
        codes=("UNAUTHORIZED",),
    )


# ----------------------------------------------------------------------------------------------------
# Private repositories look exactly like missing ones
# ----------------------------------------------------------------------------------------------------

ABSENT = sha256(b"never pushed")
PROBES: dict[str, Callable[[httpx.Client, str], httpx.Response]] = {
    "tags-list": lambda c, r: c.get(f"/v2/{r}/tags/list"),
    "manifest-get-tag": lambda c, r: c.get(f"/v2/{r}/manifests/v1", headers={"Accept": ACCEPT}),
    "manifest-head-tag": lambda c, r: c.head(f"/v2/{r}/manifests/v1", headers={"Accept": ACCEPT}),
    "manifest-get-digest": lambda c, r: c.get(f"/v2/{r}/manifests/{ABSENT}"),
    "manifest-put": lambda c, r: c.put(
        f"/v2/{r}/manifests/x", content=b"{}", headers={"Content-Type": OCI_MANIFEST}
    ),
    "manifest-delete": lambda c, r: c.delete(f"/v2/{r}/manifests/{ABSENT}"),
    "blob-get": lambda c, r: c.get(f"/v2/{r}/blobs/{ABSENT}"),
    "blob-head": lambda c, r: c.head(f"/v2/{r}/blobs/{ABSENT}"),
    "blob-delete": lambda c, r: c.delete(f"/v2/{r}/blobs/{ABSENT}"),
    "upload-post": lambda c, r: c.post(f"/v2/{r}/blobs/uploads/"),
    "upload-get": lambda c, r: c.get(f"/v2/{r}/blobs/uploads/{uuid.UUID(int=1)}"),
    "upload-patch": lambda c, r: c.patch(f"/v2/{r}/blobs/uploads/{uuid.UUID(int=1)}", content=b"x"),
    "upload-put": lambda c, r: c.put(f"/v2/{r}/blobs/uploads/{uuid.UUID(int=1)}?digest={ABSENT}"),
    "upload-delete": lambda c, r: c.delete(f"/v2/{r}/blobs/uploads/{uuid.UUID(int=1)}"),
    "referrers": lambda c, r: c.get(f"/v2/{r}/referrers/{ABSENT}"),
}


def _normalised(response: httpx.Response, name: str) -> tuple[int, str, str, str]:
    return (
        response.status_code,
        response.headers.get("www-authenticate", "").replace(name, "NAME"),
        response.headers.get("content-type", ""),
        response.text.replace(name, "NAME"),
    )


@pytest.mark.parametrize("probe", PROBES)
@pytest.mark.parametrize("private", [ORG_PRIVATE, USER_PRIVATE])
@pytest.mark.parametrize("principal", OUTSIDERS)
def test_private_repository_answers_outsiders_as_a_missing_one(
    matrix: Matrix, principal: str, private: str, probe: str
) -> None:
    missing = MISSING[private]
    with matrix.client(principal, private) as client:
        hidden = PROBES[probe](client, private)
    with matrix.client(principal, missing) as client:
        absent = PROBES[probe](client, missing)

    assert hidden.status_code in (401, 404), (hidden.status_code, hidden.text)
    assert _normalised(hidden, private) == _normalised(absent, missing)


@pytest.mark.parametrize("user", ["bobby", "carol"])
def test_cross_repository_mount_from_a_private_repository_is_refused(matrix: Matrix, user: str) -> None:
    """A mount needs pull on the source: outsiders must not copy a private blob into their own repository."""
    digest = sha256(matrix.images[USER_PRIVATE].layers[0])
    target = f"{user}/loot"
    token = matrix.world.token(f"repository:{target}:pull,push", f"repository:{USER_PRIVATE}:pull", user=user)
    with matrix.world.client(token) as client:
        with_from = client.post(
            with_query(f"/v2/{target}/blobs/uploads/", mount=digest, **{"from": USER_PRIVATE})
        )
        without_from = client.post(with_query(f"/v2/{target}/blobs/uploads/", mount=digest))
        after = client.get(f"/v2/{target}/blobs/{digest}")

    # Either a plain upload session (the spec's fallback) or a refusal, never a mounted blob.
    assert with_from.status_code in (202, 401, 403, 404), (with_from.status_code, with_from.text)
    assert without_from.status_code in (202, 401, 403, 404), (without_from.status_code, without_from.text)
    assert after.status_code == 404, (after.status_code, after.content[:100])


def test_an_upload_session_of_a_private_repository_is_unknown_under_another_name(matrix: Matrix) -> None:
    """bobby learns an upload URL of acme/private and replays it under his own repository."""
    prepared = _prepare_session(matrix, ORG_PRIVATE)
    hijacked = prepared["location"].replace(f"/v2/{ORG_PRIVATE}/", "/v2/bobby/loot/", 1)
    assert hijacked != prepared["location"]
    before = _session_range(matrix, ORG_PRIVATE, prepared["location"])
    assert before is not None
    token = matrix.world.token("repository:bobby/loot:pull,push", user="bobby")
    with matrix.world.client(token) as client:
        status = client.get(hijacked)
        patched = client.patch(
            hijacked, content=prepared["data"], headers={"Content-Type": "application/octet-stream"}
        )
        finished = client.put(with_query(hijacked, digest=prepared["digest"]), content=prepared["data"])
        cancelled = client.delete(hijacked)

    for response in (status, patched, finished, cancelled):
        assert response.status_code == 404, (response.request.method, response.status_code, response.text)
        assert error_codes(response) == ["BLOB_UPLOAD_UNKNOWN"]
    # The session itself is untouched.
    assert _session_range(matrix, ORG_PRIVATE, prepared["location"]) == before


def test_blobs_of_a_private_repository_are_invisible_from_an_outsiders_repository(matrix: Matrix) -> None:
    """Neither a blob HEAD nor a manifest naming the blobs tells bobby they exist elsewhere."""
    image = matrix.images[USER_PRIVATE]
    token = matrix.world.token("repository:bobby/probe:pull,push", user="bobby")
    with matrix.world.client(token) as client:
        start_upload(client, "bobby/probe")  # the repository exists from here on
        heads = [
            client.head(f"/v2/bobby/probe/blobs/{sha256(blob)}") for blob in (image.config, *image.layers)
        ]
        put = client.put(
            "/v2/bobby/probe/manifests/stolen",
            content=image.manifest,
            headers={"Content-Type": image.media_type},
        )
        fetched = client.get(f"/v2/bobby/probe/blobs/{sha256(image.layers[0])}")

    assert [head.status_code for head in heads] == [404] * len(heads)
    assert put.status_code == 400, (put.status_code, put.text)
    assert error_codes(put) == ["MANIFEST_BLOB_UNKNOWN"]
    assert fetched.status_code == 404


# ----------------------------------------------------------------------------------------------------
# Repositories made by a push; the library namespace; first start
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("owner", "private"), [("alice", False), ("bobby", True)])
def test_a_push_creates_the_repository_with_the_namespaces_default_visibility(
    matrix: Matrix, owner: str, private: bool
) -> None:
    repository = f"{owner}/pushed-{uuid.uuid4().hex[:8]}"
    token = matrix.world.token(f"repository:{repository}:pull,push", user=owner)
    with matrix.world.client(token) as client:
        push_image(client, repository, "v1")

    anonymous = matrix.world.token(f"repository:{repository}:pull")
    with matrix.world.client(anonymous) as client:
        response = client.get(f"/v2/{repository}/manifests/v1", headers={"Accept": ACCEPT})
    if private:
        assert_unauthorized(
            response, matrix.world.server, error="insufficient_scope", codes=("UNAUTHORIZED",)
        )
    else:
        assert response.status_code == 200, (response.status_code, response.text)
    # Someone else still may not push into it.
    outsider = "bobby" if owner == "alice" else "alice"
    token = matrix.world.token(f"repository:{repository}:pull,push", user=outsider)
    with matrix.world.client(token) as client:
        denied = client.post(f"/v2/{repository}/blobs/uploads/")
    assert_unauthorized(denied, matrix.world.server, error="insufficient_scope", codes=("UNAUTHORIZED",))


@pytest.mark.parametrize("user", ["carol", "dave", "erin"])
def test_team_permissions_on_some_repositories_do_not_create_new_ones_in_the_organisation(
    matrix: Matrix, user: str
) -> None:
    """Team permissions are per repository; a new repository in an organisation is for its owners."""
    repository = f"acme/new-{uuid.uuid4().hex[:8]}"
    token = matrix.world.token(f"repository:{repository}:pull,push", user=user)
    with matrix.world.client(token) as client:
        denied = client.post(f"/v2/{repository}/blobs/uploads/")

    assert_unauthorized(denied, matrix.world.server, error="insufficient_scope", codes=("UNAUTHORIZED",))
    owner = matrix.world.token(f"repository:{repository}:pull", user="alice")
    with matrix.world.client(owner) as client:
        assert client.get(f"/v2/{repository}/tags/list").status_code == 404


@pytest.mark.parametrize("spelling", ["tools", "library/tools"])
def test_the_library_namespace_is_writable_by_site_administrators_only(matrix: Matrix, spelling: str) -> None:
    for user in ("alice", "bobby"):
        token = matrix.world.token(f"repository:{spelling}:pull,push,delete", user=user)
        assert "push" not in actions_in(matrix, token, spelling), user
        with matrix.world.client(token) as client:
            denied = client.post(f"/v2/{spelling}/blobs/uploads/")
        assert_unauthorized(denied, matrix.world.server, error="insufficient_scope", codes=("UNAUTHORIZED",))

    name = f"{spelling}-{uuid.uuid4().hex[:8]}"
    admin = matrix.world.token(f"repository:{name}:pull,push", user=ADMIN)
    with matrix.world.client(admin) as client:
        image = push_image(client, name, "v1")
    # Official images are for everyone to pull, under either spelling.
    other = name.removeprefix("library/") if name.startswith("library/") else f"library/{name}"
    for pulled_as in (name, other):
        anonymous = matrix.world.token(f"repository:{pulled_as}:pull")
        with matrix.world.client(anonymous) as client:
            response = client.get(f"/v2/{pulled_as}/manifests/v1", headers={"Accept": ACCEPT})
        assert response.status_code == 200, (pulled_as, response.status_code, response.text)
        assert response.headers["docker-content-digest"] == image.digest


def actions_in(matrix: Matrix, token: str, name: str) -> set[str]:
    claims = decode(token, matrix.world.data_dir)
    return {a for e in claims.get("access", []) if e["name"] == name for a in e["actions"]}


# ----------------------------------------------------------------------------------------------------
# The hub (issue 4) must keep the same secret: a private repository looks missing there too
# ----------------------------------------------------------------------------------------------------

HUB_PROBES = [
    "/v2/repositories/{name}/",
    "/v2/repositories/{name}/tags/",
    "/v2/repositories/{name}/tags/v1/",
    "/r/{name}",
    "/r/{name}/tags",
]


def hub_headers(matrix: Matrix, user: str | None) -> dict[str, str]:
    if user is None:
        return {}
    response = matrix.world.server.http.post(
        "/v2/users/login", json={"username": user, "password": matrix.world.passwords[user]}
    )
    assert response.status_code == 200, (response.status_code, response.text)
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.mark.parametrize("user", [None, "bobby"], ids=["anonymous", "other-user"])
@pytest.mark.parametrize("probe", HUB_PROBES)
def test_hub_answers_outsiders_about_a_private_repository_as_about_a_missing_one(
    matrix: Matrix, probe: str, user: str | None
) -> None:
    headers = hub_headers(matrix, user)
    http = matrix.world.server.http
    hidden = http.get(probe.format(name=ORG_PRIVATE), headers=headers)
    absent = http.get(probe.format(name=MISSING[ORG_PRIVATE]), headers=headers)

    assert hidden.status_code == absent.status_code, (hidden.status_code, absent.status_code)
    assert hidden.status_code in (401, 403, 404), hidden.status_code
    assert SECRET_DESCRIPTION not in hidden.text
    if hidden.headers.get("content-type", "").startswith("application/json"):
        assert hidden.text.replace(ORG_PRIVATE, "NAME").replace("private", "NAME") == absent.text.replace(
            MISSING[ORG_PRIVATE], "NAME"
        ).replace("missing", "NAME")


@pytest.mark.parametrize("user", [None, "bobby"], ids=["anonymous", "other-user"])
@pytest.mark.parametrize(
    "listing",
    ["/v2/repositories/acme/", "/v2/search/repositories/?query=acme", "/u/acme", "/search?q=acme"],
)
def test_hub_listings_and_search_leave_out_private_repositories(
    matrix: Matrix, listing: str, user: str | None
) -> None:
    response = matrix.world.server.http.get(listing, headers=hub_headers(matrix, user))

    assert response.status_code == 200, (response.status_code, response.text[:300])
    text = response.text.replace(" ", "")
    # acme/public is there (the listing works), acme/private is not.
    assert "acme/public" in text or '"name":"public"' in text, text[:1000]
    assert "acme/private" not in text
    assert '"name":"private"' not in text
    assert SECRET_DESCRIPTION not in response.text
