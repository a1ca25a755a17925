"""Builds are isolated per account (issue 8, item 5): nothing one account pulled or built serves
another account's build from the shared engine.

A real server with token auth: alice keeps a private base image, which the engine holds once she
has built from it; bobby's build FROM it must still fail, because every build pulls its base
images with a token holding only its own account's rights. And a step alice's build ran is not
handed to bobby's identical build from the layer cache.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builds.conftest import BUILD_ENV, GitSource, api_link, dockerfile, dockyard_here, publish_base
from tests.conftest import BASE_IMAGE, Cli, DockyardServer, GitDaemon, require_tool
from tests.security._build_sandbox import build_of

pytestmark = pytest.mark.docker

ALICE = ("alice", "alice-password-1")
BOBBY = ("bobby", "bobby-password-1")
STAMP = "RUN cat /proc/sys/kernel/random/uuid > /stamp && echo stamp=$(cat /stamp)"


@pytest.fixture(scope="module")
def accounts_server(
    tmp_path_factory: pytest.TempPathFactory, docker_cli: Cli, base_image: str
) -> Iterator[DockyardServer]:
    require_tool("git")
    with DockyardServer(tmp_path_factory.mktemp("accounts") / "data", env=BUILD_ENV) as server:
        for name, password in (ALICE, BOBBY):
            dockyard_here(server, "user", "create", name, "--password-stdin", input=password + "\n")
        yield server


def _build(
    server: DockyardServer, tmp_path: Path, git_daemon: GitDaemon, who: tuple[str, str], name: str, text: str
) -> tuple[dict[str, object], str]:
    source = GitSource(tmp_path / who[0] / name, require_tool("git"), git_daemon)
    repository = f"{who[0]}/{name}"
    api_link(server, repository, source, auth=who)  # the builds push with who's rights
    source.commit({"Dockerfile": text}, name)
    source.push("main")
    return build_of(server, repository, auth=who)


def test_a_private_base_image_serves_only_its_owners_builds(
    accounts_server: DockyardServer, tmp_path: Path, docker_cli: Cli, git_daemon: GitDaemon
) -> None:
    """alice builds FROM her private image (the engine then holds it); bobby's build FROM the same
    image fails: he cannot pull it, and builds always pull."""
    server = accounts_server
    dockyard_here(server, "repo", "create", "alice/private-base", "--private")
    private = f"{server.host}/alice/private-base:1"
    config = tmp_path / "docker-config"
    cli = Cli(docker_cli.path, ("--config", str(config)), docker_cli.env)
    cli("login", "-u", ALICE[0], "--password-stdin", server.host, input=ALICE[1])
    cli("tag", BASE_IMAGE, private)
    try:
        cli("push", private)
        text = dockerfile('RUN echo "built on the private base"', base=private)
        own, own_log = _build(server, tmp_path, git_daemon, ALICE, "on-private", text)
        assert own["state"] == "success", own_log
        stolen, stolen_log = _build(server, tmp_path, git_daemon, BOBBY, "stolen-base", text)
    finally:
        cli("rmi", private, check=False)
    assert "built on the private base" not in stolen_log
    assert stolen["state"] == "failed", stolen_log


def test_one_accounts_build_steps_do_not_serve_anothers(
    accounts_server: DockyardServer, tmp_path: Path, docker_cli: Cli, git_daemon: GitDaemon
) -> None:
    """alice's build runs a step and then fails, which leaves that step's layer in the engine;
    bobby's build with the same step runs it itself instead of taking alice's layer from the cache."""
    server = accounts_server
    base = publish_base(server, docker_cli, ALICE)
    docker_cli("pull", base)  # the engine holds the public base, as after any earlier build
    try:
        text = dockerfile(STAMP, "RUN exit 3", base=base)
        first, first_log = _build(server, tmp_path, git_daemon, ALICE, "stamped", text)
        text = dockerfile(STAMP, base=base)
        second, second_log = _build(server, tmp_path, git_daemon, BOBBY, "stamped", text)
    finally:
        docker_cli("rmi", base, check=False)
    assert first["state"] == "failed" and second["state"] == "success", (first_log, second_log)
    assert "Using cache" not in second_log, second_log
    stamps = [re.findall(r"^stamp=(\S+)$", log, re.M) for log in (first_log, second_log)]
    assert stamps[0] and stamps[1] and stamps[0] != stamps[1]
