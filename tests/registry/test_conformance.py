"""The OCI distribution-spec conformance suite's cases that Dockyard failed (issue 9, item 8).

The suite (Go, run as held out) cannot run here: no Go toolchain, no network. Each case it failed
is reproduced as the suite makes it:

- pull, "HEAD/GET nonexistent manifest should return 404": the reference is
  ``.INVALID_MANIFEST_NAME``, neither a tag nor a digest; 404 is expected, 400 TAG_INVALID was sent.
- push with token auth, "Cross-mounting of a blob from another repository": the suite's client
  (reggie) answers every 401 by asking the realm for exactly the challenge's scope, then retries.
  The challenge named only the target repository, so the token never allowed pull on the source
  and the mount became an ordinary upload (202 where 201 is expected).
- every 401 carries UNAUTHORIZED in its body; DENIED is the spec's code for 403.

skopeo, which builds its own scopes, shows the mount with a real client against a real server
(tests/access/test_docker_login.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.access.helpers import World, challenge_of, in_process_world
from tests.registry.helpers import assert_error, push_blob, push_image

INVALID_MANIFEST_NAME = ".INVALID_MANIFEST_NAME"  # the suite's nonexistentManifest
OWNER = "alice"


# ----------------------------------------------------------------------------------------------------
# Pull: a reference that can name nothing is an unknown manifest
# ----------------------------------------------------------------------------------------------------


def test_head_of_a_manifest_by_an_invalid_reference_is_404(client: httpx.Client, repo: str) -> None:
    push_image(client, repo, "v1")
    response = client.head(f"/v2/{repo}/manifests/{INVALID_MANIFEST_NAME}")
    assert (response.status_code, response.content) == (404, b"")  # the wire: test_real_server.py


@pytest.mark.parametrize(
    "reference", [INVALID_MANIFEST_NAME, "-leading-dash", "a" * 129, "sha256:short", "md5:" + "0" * 32]
)
def test_get_of_a_manifest_by_an_invalid_reference_is_404_manifest_unknown(
    client: httpx.Client, repo: str, reference: str
) -> None:
    push_image(client, repo, "v1")
    assert_error(client.get(f"/v2/{repo}/manifests/{reference}"), 404, "MANIFEST_UNKNOWN")


def test_put_by_an_invalid_tag_is_still_tag_invalid(client: httpx.Client, repo: str) -> None:
    """Only lookups change: a PUT that cannot be stored under its reference says why."""
    image = push_image(client, repo, "v1")
    response = client.put(
        f"/v2/{repo}/manifests/{INVALID_MANIFEST_NAME}",
        content=image.manifest,
        headers={"Content-Type": image.media_type},
    )
    assert_error(response, 400, "TAG_INVALID")


# ----------------------------------------------------------------------------------------------------
# Token auth: challenges a client can follow
# ----------------------------------------------------------------------------------------------------


class ChallengeFollower:
    """A client that acts like the suite's: each 401 is answered with a token for exactly the
    challenge's scope (credentials by Basic auth), then the request is sent again once."""

    def __init__(self, world: World, user: str) -> None:
        self.world = world
        self.auth = (user, world.passwords[user])
        self.http = world.server.client()
        self.challenges: list[dict[str, str]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, url, **kwargs)
        if response.status_code != 401:
            return response
        challenge = challenge_of(response)
        self.challenges.append(challenge)
        params = {"service": challenge["service"], "scope": challenge.get("scope", "")}
        # The realm is the server's own /token: this client reaches it wherever the server is.
        granted = self.http.get(challenge["realm"], params=params, auth=self.auth)
        assert granted.status_code == 200, granted.text
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {granted.json()['token']}"}
        return self.http.request(method, url, headers=headers, **kwargs)

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, template_database: Path) -> Iterator[World]:
    data = tmp_path_factory.mktemp("conformance") / "data"
    with in_process_world(data, template=template_database) as world:
        world.create_user(OWNER)
        yield world


@pytest.fixture
def follower(world: World) -> Iterator[ChallengeFollower]:
    client = ChallengeFollower(world, OWNER)
    yield client
    client.close()


def test_a_client_that_follows_the_challenge_gets_the_cross_repository_mount(
    world: World, follower: ChallengeFollower
) -> None:
    source, target = f"{OWNER}/mount-source", f"{OWNER}/mount-target"
    layer = os.urandom(512)
    with world.client(world.token(f"repository:{source}:pull,push", user=OWNER)) as client:
        digest = push_blob(client, source, layer)

    response = follower.request("POST", f"/v2/{target}/blobs/uploads/?mount={digest}&from={source}")

    assert response.status_code == 201, (response.status_code, response.text)
    assert response.headers["docker-content-digest"] == digest
    scopes = follower.challenges[0]["scope"].split(" ")
    assert scopes == [f"repository:{target}:pull,push", f"repository:{source}:pull"]
    assert follower.request("GET", f"/v2/{target}/blobs/{digest}").content == layer


def test_a_mount_from_an_unreadable_source_stays_an_ordinary_upload(
    world: World, follower: ChallengeFollower
) -> None:
    """Naming the source in the challenge grants nothing by itself: the token server still
    gives pull only where the account has it, and without it the mount is an upload (202)."""
    world.create_user("bobby")
    private = "bobby/private"
    world.cli("repo", "create", private, "--private")
    with world.client(world.token(f"repository:{private}:pull,push", user="bobby")) as client:
        digest = push_blob(client, private, os.urandom(256))

    response = follower.request("POST", f"/v2/{OWNER}/copy/blobs/uploads/?mount={digest}&from={private}")

    assert response.status_code == 202, (response.status_code, response.text)
    assert follower.request("HEAD", f"/v2/{OWNER}/copy/blobs/{digest}").status_code == 404


def test_a_mount_challenge_without_a_valid_source_names_only_the_target(world: World) -> None:
    response = world.server.http.post(f"/v2/{OWNER}/x/blobs/uploads/?mount=sha256:00&from=Bad..Name")
    assert response.status_code == 401
    assert challenge_of(response)["scope"] == f"repository:{OWNER}/x:pull,push"


def test_every_401_says_unauthorized_in_its_body(world: World) -> None:
    """401 is UNAUTHORIZED in the spec's table; the body said DENIED (403's code) when a token
    lacked the action. The challenge's error="insufficient_scope" is what tells the two apart."""
    repository = f"{OWNER}/unauthorized"
    anonymous = world.token(f"repository:{repository}:pull")
    with world.client(anonymous) as client:
        insufficient = client.post(f"/v2/{repository}/blobs/uploads/")
    forged = world.server.http.get(
        f"/v2/{repository}/tags/list", headers={"Authorization": "Bearer not.a.token"}
    )
    missing = world.server.http.get(f"/v2/{repository}/tags/list")
    for response, error in ((insufficient, "insufficient_scope"), (forged, "invalid_token"), (missing, None)):
        assert response.status_code == 401
        assert challenge_of(response).get("error") == error
        assert [entry["code"] for entry in response.json()["errors"]] == ["UNAUTHORIZED"]
