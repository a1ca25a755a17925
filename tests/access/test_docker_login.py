"""Issue 3 with the real clients: `docker login`, push rules, private pulls, tokens, logout; podman; skopeo.

Every docker session has a DOCKER_CONFIG folder of its own, so no login leaks into the machine's
~/.docker or into another test. The engine is shared: images are named after this module's server
(127.0.0.1:PORT/...) and all removed at the end.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.access.helpers import World, past_the_standing_cache, running_world
from tests.conftest import Cli, DockyardServer, busybox_rootfs_tar
from tests.e2e.oci_layout import OciLayout
from tests.registry.helpers import sha256

pytestmark = pytest.mark.e2e  # real clients against a real server

LOGIN_SUCCEEDED = "Login Succeeded"
WRONG_PASSWORD = "unauthorized: incorrect username or password"
PUSH_DENIED = "denied: requested access to the resource is denied"
PULL_DENIED = "pull access denied for"
MAY_REQUIRE_LOGIN = "repository does not exist or may require 'docker login'"
ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"


class Docker:
    """The docker CLI with a config folder (and so a credential store) of its own."""

    def __init__(self, docker_cli: Cli, config_dir: Path, server: DockyardServer) -> None:
        config_dir.mkdir(parents=True, exist_ok=True)
        self.cli = Cli(docker_cli.path, env={**docker_cli.env, "DOCKER_CONFIG": str(config_dir)})
        self.config_file = config_dir / "config.json"
        self.server = server

    def __call__(
        self, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.cli(*args, check=check, input=input)

    def login(self, user: str, password: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self("login", self.server.host, "-u", user, "--password-stdin", input=password, check=check)

    def logout(self) -> subprocess.CompletedProcess[str]:
        return self("logout", self.server.host)

    def stored_hosts(self) -> set[str]:
        return set(self.stored_auths())

    def stored_auths(self) -> dict[str, dict[str, str]]:
        if not self.config_file.exists():
            return {}
        auths: dict[str, dict[str, str]] = json.loads(self.config_file.read_text()).get("auths", {})
        return auths


class Images:
    """Unique single-layer images in the shared engine, every one removed at the end."""

    def __init__(self, docker_cli: Cli, workdir: Path, server: DockyardServer) -> None:
        self.docker = docker_cli
        self.workdir = workdir
        self.server = server
        self.references: set[str] = set()

    def make(self, repository: str, tag: str) -> str:
        """A new image (a busybox layer with a unique marker) tagged HOST/repository:tag."""
        reference = f"{self.server.host}/{repository}:{tag}"
        marker = uuid.uuid4().hex
        tarball = self.workdir / f"{marker}.tar"
        tarball.write_bytes(busybox_rootfs_tar({"marker.txt": marker.encode()}))
        self.docker("import", str(tarball), reference)
        tarball.unlink()
        self.references.add(reference)
        return reference

    def forget(self, reference: str) -> None:
        """Remove the local copy, so a later pull has to fetch it from the registry."""
        self.docker("rmi", "--force", reference, check=False)
        assert self.docker("image", "inspect", reference, check=False).returncode != 0

    def pulled(self, reference: str) -> None:
        self.references.add(reference)

    def remove_all(self) -> None:
        for reference in self.references:
            self.docker("rmi", "--force", reference, check=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, template_database: Path) -> Iterator[World]:
    """alice and bobby; organisation acme (owner bobby) with a team `readers` holding alice, no grants yet."""
    data = tmp_path_factory.mktemp("access-docker") / "data"
    with running_world(data, template=template_database) as world:
        with world.batch() as cli:
            cli.user("alice")
            cli.user("bobby")
            cli.run("org", "create", "acme", "--owner", "bobby")
            cli.run("team", "create", "acme", "readers")
            cli.run("team", "add-member", "acme", "readers", "alice")
            cli.run("repo", "create", "bobby/public", "--public")
            cli.run("repo", "create", "alice/private", "--private")
            cli.run("repo", "create", "acme/secret", "--private")
            cli.run("repo", "create", "acme/granted", "--private")
            cli.pat("docker-read", "alice", "repo:read")
            cli.pat("docker-revoked", "alice", "repo:write")
        yield world


@pytest.fixture(scope="module")
def images(docker_cli: Cli, tmp_path_factory: pytest.TempPathFactory, world: World) -> Iterator[Images]:
    local = Images(docker_cli, tmp_path_factory.mktemp("access-images"), world.server)
    yield local
    local.remove_all()


@pytest.fixture(scope="module")
def seeded(
    world: World, docker_cli: Cli, images: Images, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """bobby/public:1, acme/secret:1 (bobby) and alice/private:1 (alice) pushed, then removed locally."""
    pushed = {}
    for user, repository in (("bobby", "bobby/public"), ("bobby", "acme/secret"), ("alice", "alice/private")):
        session = Docker(docker_cli, tmp_path_factory.mktemp(f"seed-{user}"), world.server)
        session.login(user, world.passwords[user])
        reference = images.make(repository, "1")
        session("push", reference)
        images.forget(reference)
        pushed[repository] = reference
    return pushed


@pytest.fixture
def docker(docker_cli: Cli, world: World, tmp_path: Path) -> Docker:
    return Docker(docker_cli, tmp_path / "docker-config", world.server)


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def manifest_status(world: World, repository: str, tag: str, user: str) -> int:
    """HEAD of a manifest through the token protocol, as `user` (who must be able to read it)."""
    token = world.token(f"repository:{repository}:pull", user=user)
    response = httpx.head(
        f"{world.server.url}/v2/{repository}/manifests/{tag}",
        headers={"Authorization": f"Bearer {token}", "Accept": ACCEPT},
        timeout=30,
    )
    return response.status_code


# ----------------------------------------------------------------------------------------------------
# docker login / logout
# ----------------------------------------------------------------------------------------------------


def test_docker_login_succeeds_and_stores_credentials_for_host_and_port(docker: Docker, world: World) -> None:
    result = docker.login("alice", world.passwords["alice"])

    assert LOGIN_SUCCEEDED in result.stdout
    assert world.server.host in docker.stored_hosts()
    # The token server gave docker a refresh token (offline_token=true), which docker keeps as an
    # identity token instead of the password: the password is not on disk.
    assert docker.stored_auths()[world.server.host].get("identitytoken")
    assert world.passwords["alice"] not in docker.config_file.read_text()


def test_docker_login_with_a_wrong_password_is_refused_with_dockers_message(
    docker: Docker, world: World
) -> None:
    result = docker.login("alice", world.passwords["alice"] + "x", check=False)

    assert result.returncode != 0
    assert WRONG_PASSWORD in output_of(result)
    assert LOGIN_SUCCEEDED not in result.stdout
    assert world.server.host not in docker.stored_hosts()


def test_docker_login_of_an_unknown_user_gets_the_same_message(docker: Docker) -> None:
    result = docker.login("nosuchuser", "whatever-password", check=False)

    assert result.returncode != 0
    assert WRONG_PASSWORD in output_of(result)


def test_docker_logout_forgets_credentials_and_private_pulls_are_denied_again(
    docker: Docker, world: World, images: Images, seeded: dict[str, str]
) -> None:
    reference = seeded["alice/private"]
    docker.login("alice", world.passwords["alice"])
    images.pulled(reference)
    docker("pull", reference)
    images.forget(reference)

    result = docker.logout()

    assert f"Removing login credentials for {world.server.host}" in output_of(result)
    assert world.server.host not in docker.stored_hosts()
    denied = docker("pull", reference, check=False)
    assert denied.returncode != 0
    assert PULL_DENIED in output_of(denied)
    assert MAY_REQUIRE_LOGIN in output_of(denied)


# ----------------------------------------------------------------------------------------------------
# docker push
# ----------------------------------------------------------------------------------------------------


def test_docker_push_into_own_namespace_creates_the_repository(
    docker: Docker, world: World, images: Images, unique: str
) -> None:
    repository = f"alice/app-{unique}"
    reference = images.make(repository, "1")
    docker.login("alice", world.passwords["alice"])

    result = docker("push", reference)

    assert "1: digest: sha256:" in result.stdout
    assert manifest_status(world, repository, "1", "alice") == 200


def test_docker_push_into_another_users_namespace_is_denied_with_dockers_message(
    docker: Docker, world: World, images: Images, unique: str
) -> None:
    repository = f"bobby/app-{unique}"
    reference = images.make(repository, "1")
    docker.login("alice", world.passwords["alice"])

    result = docker("push", reference, check=False)

    assert result.returncode != 0
    assert PUSH_DENIED in output_of(result)
    # Nothing was created: bob, who could read it, finds no such manifest.
    assert manifest_status(world, repository, "1", "bobby") == 404


def test_docker_push_into_an_organisation_without_write_is_denied(
    docker: Docker, world: World, images: Images
) -> None:
    reference = images.make("acme/secret", "alice-was-here")
    docker.login("alice", world.passwords["alice"])

    result = docker("push", reference, check=False)

    assert result.returncode != 0
    assert PUSH_DENIED in output_of(result)
    assert manifest_status(world, "acme/secret", "alice-was-here", "bobby") == 404


def test_anonymous_docker_push_is_denied(docker: Docker, world: World, images: Images, unique: str) -> None:
    repository = f"alice/anon-{unique}"
    reference = images.make(repository, "1")

    result = docker("push", reference, check=False)

    assert result.returncode != 0
    assert PUSH_DENIED in output_of(result)
    assert manifest_status(world, repository, "1", "alice") == 404


def test_docker_push_mounts_layers_from_the_users_other_repository(
    docker: Docker, world: World, images: Images, unique: str
) -> None:
    first = images.make(f"alice/mount-a-{unique}", "1")
    second = f"{world.server.host}/alice/mount-b-{unique}:1"
    docker("tag", first, second)
    images.pulled(second)
    docker.login("alice", world.passwords["alice"])
    docker("push", first)

    result = docker("push", second)

    assert f"Mounted from alice/mount-a-{unique}" in result.stdout


@pytest.mark.parametrize("source", ["public", "private"])
def test_docker_push_mounts_from_another_users_repository_only_when_readable(
    docker: Docker, world: World, images: Images, docker_cli: Cli, tmp_path: Path, unique: str, source: str
) -> None:
    """The engine remembers alice pushed these layers and offers her repository to bobby's push as a
    mount source. From a public repository (bobby may read it) the mount happens, which shows the
    offer is made; from a private one the registry must make bobby upload the layers himself."""
    repository = "alice/private" if source == "private" else f"alice/public-{unique}"  # public: by default
    original = images.make(repository, f"mount-{unique}")
    docker.login("alice", world.passwords["alice"])
    docker("push", original)
    copy = f"{world.server.host}/bobby/copy-{unique}:1"
    docker("tag", original, copy)
    images.pulled(copy)
    bobby = Docker(docker_cli, tmp_path / "bobby-config", world.server)
    bobby.login("bobby", world.passwords["bobby"])

    result = bobby("push", copy)

    assert manifest_status(world, f"bobby/copy-{unique}", "1", "bobby") == 200
    if source == "public":
        assert f"Mounted from {repository}" in result.stdout
    else:
        assert "Mounted from" not in result.stdout
        assert "Pushed" in result.stdout


# ----------------------------------------------------------------------------------------------------
# docker pull
# ----------------------------------------------------------------------------------------------------


def test_anonymous_docker_pull_of_a_public_repository(
    docker: Docker, images: Images, seeded: dict[str, str]
) -> None:
    reference = seeded["bobby/public"]
    images.pulled(reference)
    assert docker.stored_hosts() == set()

    result = docker("pull", reference)

    assert "Digest: sha256:" in result.stdout
    assert docker("image", "inspect", reference, check=False).returncode == 0
    images.forget(reference)


def test_anonymous_docker_pull_of_a_private_repository_is_denied_like_a_missing_one(
    docker: Docker, world: World, seeded: dict[str, str]
) -> None:
    private = docker("pull", seeded["acme/secret"], check=False)
    missing = docker("pull", f"{world.server.host}/acme/nothing-here:1", check=False)

    assert private.returncode != 0
    assert PULL_DENIED in output_of(private)
    assert MAY_REQUIRE_LOGIN in output_of(private)
    # Same answer as a repository that does not exist, so the name does not leak.
    assert output_of(private).replace("acme/secret", "NAME") == output_of(missing).replace(
        "acme/nothing-here", "NAME"
    )


def test_docker_pull_of_a_private_repository_is_denied_then_allowed_after_a_team_grant(
    docker: Docker, world: World, images: Images, docker_cli: Cli, tmp_path: Path
) -> None:
    repository = "acme/granted"
    bob = Docker(docker_cli, tmp_path / "bob-config", world.server)
    bob.login("bobby", world.passwords["bobby"])
    reference = images.make(repository, "1")
    bob("push", reference)
    images.forget(reference)
    docker.login("alice", world.passwords["alice"])

    denied = docker("pull", reference, check=False)
    assert denied.returncode != 0
    assert PULL_DENIED in output_of(denied)
    assert MAY_REQUIRE_LOGIN in output_of(denied)

    world.cli("team", "grant", "acme", "readers", repository, "--permission", "read")
    images.pulled(reference)
    result = docker("pull", reference)

    assert "Digest: sha256:" in result.stdout
    # Read is not write: the grant does not let alice push to it.
    docker("tag", reference, f"{world.server.host}/{repository}:2")
    images.pulled(f"{world.server.host}/{repository}:2")
    pushed = docker("push", f"{world.server.host}/{repository}:2", check=False)
    assert pushed.returncode != 0
    assert PUSH_DENIED in output_of(pushed)


# ----------------------------------------------------------------------------------------------------
# Personal access tokens as passwords
# ----------------------------------------------------------------------------------------------------


def test_docker_login_with_a_personal_access_token_then_pull(
    docker: Docker, world: World, images: Images, seeded: dict[str, str]
) -> None:
    token = world.pats["docker-read"]

    result = docker.login("alice", token)

    assert LOGIN_SUCCEEDED in result.stdout
    reference = seeded["alice/private"]
    images.pulled(reference)
    assert "Digest: sha256:" in docker("pull", reference).stdout
    # repo:read does not push, even into alice's own namespace.
    retagged = f"{world.server.host}/alice/private:pat"
    docker("tag", reference, retagged)
    images.pulled(retagged)
    pushed = docker("push", retagged, check=False)
    assert pushed.returncode != 0
    assert PUSH_DENIED in output_of(pushed)
    images.forget(reference)
    assert manifest_status(world, "alice/private", "pat", "alice") == 404


def test_a_revoked_personal_access_token_stops_working_at_once(
    docker: Docker, world: World, images: Images, seeded: dict[str, str]
) -> None:
    token = world.pats["docker-revoked"]
    assert LOGIN_SUCCEEDED in docker.login("alice", token).stdout
    reference = seeded["alice/private"]
    images.pulled(reference)
    assert "Digest: sha256:" in docker("pull", reference).stdout
    images.forget(reference)

    world.cli("token", "revoke", "alice", world.pat_ids["docker-revoked"])
    past_the_standing_cache()

    # The identity token docker stored at login came from the PAT, and dies with it...
    denied = docker("pull", reference, check=False)
    assert denied.returncode != 0
    assert reference not in docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout
    # ... and the PAT no longer logs in.
    result = docker.login("alice", token, check=False)
    assert result.returncode != 0
    assert WRONG_PASSWORD in output_of(result)


# ----------------------------------------------------------------------------------------------------
# podman and skopeo
# ----------------------------------------------------------------------------------------------------


@pytest.fixture
def podman(podman_cli: Cli, tmp_path: Path) -> Cli:
    """podman with an auth file of its own."""
    return Cli(
        podman_cli.path,
        podman_cli.base_args,
        {**podman_cli.env, "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json")},
    )


@pytest.mark.podman
def test_podman_login_push_and_pull(podman: Cli, world: World, tmp_path: Path, unique: str) -> None:
    host = world.server.host
    wrong = podman("login", "--tls-verify=false", "-u", "alice", "--password-stdin", host,
                   input=world.passwords["alice"] + "nope", check=False)  # fmt: skip
    assert wrong.returncode != 0

    result = podman("login", "--tls-verify=false", "-u", "alice", "--password-stdin", host,
                    input=world.passwords["alice"])  # fmt: skip
    assert "Login Succeeded" in result.stdout

    tarball = tmp_path / "rootfs.tar"
    tarball.write_bytes(busybox_rootfs_tar({"marker.txt": unique.encode()}))
    local = f"localhost/access-{unique}:src"
    podman("import", "--quiet", str(tarball), local)
    remote = f"{host}/alice/podman-{unique}:1"
    try:
        podman("push", "--tls-verify=false", local, remote)
        assert manifest_status(world, f"alice/podman-{unique}", "1", "alice") == 200
        denied = podman("push", "--tls-verify=false", local, f"{host}/bobby/podman-{unique}:1", check=False)
        assert denied.returncode != 0
        assert manifest_status(world, f"bobby/podman-{unique}", "1", "bobby") == 404

        podman("rmi", "--force", local)
        podman("pull", "--tls-verify=false", "--quiet", remote)
        assert podman("image", "exists", remote, check=False).returncode == 0
    finally:
        podman("rmi", "--force", local, remote, check=False)
        podman("logout", host, check=False)


@pytest.mark.skopeo
def test_skopeo_copy_and_inspect_with_creds(
    skopeo_cli: Cli, world: World, seeded: dict[str, str], tmp_path: Path, unique: str
) -> None:
    layout = OciLayout(tmp_path / "layout")
    image = layout.add_image({"marker.txt": unique.encode()})
    layout.tag("src", image)
    alice = f"alice:{world.passwords['alice']}"
    destination = f"docker://{world.server.host}/alice/skopeo-{unique}:1"

    skopeo_cli(
        "copy", "--dest-tls-verify=false", "--dest-creds", alice, f"oci:{layout.root}:src", destination
    )

    inspected = json.loads(skopeo_cli("inspect", "--tls-verify=false", "--creds", alice, destination).stdout)
    assert inspected["Digest"] == image.digest

    # bob's credentials do not reach alice's private repository, nor do none at all.
    private = f"docker://{seeded['alice/private']}"
    assert skopeo_cli("inspect", "--tls-verify=false", "--creds", alice, private).returncode == 0
    bob = f"bobby:{world.passwords['bobby']}"
    assert skopeo_cli("inspect", "--tls-verify=false", "--creds", bob, private, check=False).returncode != 0
    assert skopeo_cli("inspect", "--tls-verify=false", "--no-creds", private, check=False).returncode != 0

    wrong = skopeo_cli(
        "copy", "--dest-tls-verify=false", "--dest-creds", f"alice:{world.passwords['alice']}x",
        f"oci:{layout.root}:src", f"docker://{world.server.host}/alice/skopeo-{unique}:2", check=False,
    )  # fmt: skip
    assert wrong.returncode != 0
    assert manifest_status(world, f"alice/skopeo-{unique}", "2", "alice") == 404


# ----------------------------------------------------------------------------------------------------
# skopeo copies between two repositories and mounts the layer: the OCI conformance suite's
# cross-repository mount (tests/registry/test_conformance.py) with a real client
# ----------------------------------------------------------------------------------------------------


@pytest.mark.skopeo
def test_skopeo_copy_between_repositories_mounts_the_layer(
    world: World, skopeo_cli: Cli, tmp_path: Path
) -> None:
    password = world.passwords["alice"]
    host = world.server.host
    layout = OciLayout(tmp_path / "layout")
    image = layout.add_image({"marker.txt": os.urandom(32).hex().encode()})
    layout.tag("src", image)
    creds = f"alice:{password}"
    source, target = f"docker://{host}/alice/skopeo-src:v1", f"docker://{host}/alice/skopeo-dst:v1"
    # The push records where the layer lives; the copy then offers it as a mount source.
    skopeo_cli("copy", "--dest-tls-verify=false", "--dest-creds", creds, f"oci:{layout.root}:src", source)

    copied = skopeo_cli(
        "--debug", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
        "--src-creds", creds, "--dest-creds", creds, source, target,
    )  # fmt: skip

    log = copied.stderr + copied.stdout
    assert re.search(r"Trying to mount /v2/alice/skopeo-dst/blobs/uploads/\?from=alice%2Fskopeo-src", log), (
        log
    )
    assert "mount OK" in log, log
    manifest = layout.read_json(image.digest)
    layer = manifest["layers"][0]["digest"]
    with world.client(world.token("repository:alice/skopeo-dst:pull", user="alice")) as client:
        assert sha256(client.get(f"/v2/alice/skopeo-dst/blobs/{layer}").content) == layer
