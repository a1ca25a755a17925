"""What collaborators and organisation roles change at the registry, with the real docker CLI:
a write collaborator pushes, a read collaborator pulls a private repository and cannot push,
anyone else cannot even pull; an organisation member in no team gets nothing, an owner pushes
new repositories into the organisation, and loses that with the role.

Each user has a DOCKER_CONFIG of their own; images named after this server are removed after.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.helpers import Hub, eventually
from tests.conftest import Cli

pytestmark = pytest.mark.docker

PUSH_DENIED = "denied: requested access to the resource is denied"
PULL_REFUSED = ("pull access denied", "repository does not exist", "not found")


class Docker:
    """docker as one user: logged in, with a config folder of its own."""

    def __init__(self, docker_cli: Cli, folder: Path, hub: Hub, user: str) -> None:
        folder.mkdir(parents=True)
        self.cli = Cli(docker_cli.path, env={**docker_cli.env, "DOCKER_CONFIG": str(folder)})
        self.host = hub.world.server.host
        self.cli("login", self.host, "-u", user, "--password-stdin", input=hub.world.passwords[user])

    def push(self, base: str, repository: str, tag: str, *, check: bool = True) -> str:
        reference = f"{self.host}/{repository}:{tag}"
        self.cli("tag", base, reference)
        result = self.cli("push", reference, check=check)
        return result.stdout + result.stderr

    def pull(self, repository: str, tag: str, *, check: bool = True) -> str:
        result = self.cli("pull", f"{self.host}/{repository}:{tag}", check=check)
        return result.stdout + result.stderr


class Sessions(dict[str, Docker]):
    """One logged-in docker per user, made the first time the user is named."""

    def __init__(self, docker_cli: Cli, folder: Path, hub: Hub) -> None:
        super().__init__()
        self.docker_cli, self.folder, self.hub = docker_cli, folder, hub

    def __missing__(self, user: str) -> Docker:
        self[user] = Docker(self.docker_cli, self.folder / user, self.hub, user)
        return self[user]


@pytest.fixture
def as_user(docker_cli: Cli, tmp_path: Path, hub: Hub) -> Iterator[Sessions]:
    yield Sessions(docker_cli, tmp_path, hub)
    host = hub.world.server.host
    listed = docker_cli("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", check=False).stdout.split()
    for reference in listed:
        if reference.startswith(f"{host}/"):
            docker_cli("rmi", "--force", reference, check=False)


def test_collaborators_at_the_registry(hub: Hub, unique: str, base_image: str, as_user: Sessions) -> None:
    repository = f"danny/shared-{unique}"
    owner = hub.api("danny")
    assert (
        owner.post(
            "/v2/repositories/", json={"namespace": "danny", "name": f"shared-{unique}", "is_private": True}
        ).status_code
        == 201
    )
    for user, permission in (("erica", "write"), ("carol", "read")):
        added = owner.post(
            f"/v2/repositories/{repository}/collaborators", json={"user": user, "permission": permission}
        )
        assert added.status_code == 201, added.text

    as_user["danny"].push(base_image, repository, "v1")
    as_user["erica"].push(base_image, repository, "v2")  # write: pushes
    as_user["carol"].pull(repository, "v2")  # read: pulls the private repository
    refused = as_user["carol"].push(base_image, repository, "v3", check=False)
    assert PUSH_DENIED in refused, refused
    stranger = as_user["bobby"].pull(repository, "v1", check=False)
    assert any(text in stranger for text in PULL_REFUSED), stranger

    # Taking the permission away takes the access away at once.
    assert owner.delete(f"/v2/repositories/{repository}/collaborators/erica").status_code == 204
    refused = as_user["erica"].push(base_image, repository, "v4", check=False)
    assert PUSH_DENIED in refused, refused

    def pushers() -> dict[str, object] | None:
        found = {
            t["name"]: t["last_updater_username"]
            for t in owner.get(f"/v2/repositories/{repository}/tags").json()["results"]
        }
        return found if all(found.values()) else None

    assert eventually(pushers) == {"v1": "danny", "v2": "erica"}


def test_org_roles_at_the_registry(hub: Hub, unique: str, base_image: str, as_user: Sessions) -> None:
    org = f"roles{unique}"
    alice = hub.api("alice")
    assert alice.post("/v2/orgs/", json={"orgname": org}).status_code == 201
    invited = alice.post("/v2/invites/bulk", json={"org": org, "invitees": ["danny"]})
    assert invited.json()["invitees"][0]["status"] == "added"
    assert (
        alice.post(f"/v2/namespaces/{org}/repositories", json={"name": "app", "is_private": True}).status_code
        == 201
    )
    as_user["alice"].push(base_image, f"{org}/app", "v1")

    # A member in no team: nothing on the organisation's private repositories, nor new ones.
    refused = as_user["danny"].pull(f"{org}/app", "v1", check=False)
    assert any(text in refused for text in PULL_REFUSED), refused
    refused = as_user["danny"].push(base_image, f"{org}/fresh", "v1", check=False)
    assert PUSH_DENIED in refused, refused

    # An owner: everything, new repositories by push included.
    assert alice.put(f"/v2/orgs/{org}/members/danny", json={"role": "owner"}).status_code == 200
    as_user["danny"].pull(f"{org}/app", "v1")
    as_user["danny"].push(base_image, f"{org}/fresh", "v1")
    created = alice.get(f"/v2/namespaces/{org}/repositories/fresh")
    assert created.status_code == 200

    # Back to member: the push rights go with the role.
    assert alice.put(f"/v2/orgs/{org}/members/danny", json={"role": "member"}).status_code == 200
    refused = as_user["danny"].push(base_image, f"{org}/fresh", "v2", check=False)
    assert PUSH_DENIED in refused, refused
