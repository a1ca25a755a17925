"""Under token auth the worker pushes with a token it signs for the one repository it builds,
with the rights of the account that linked it; nobody else's rights, no stored password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.builds.conftest import (
    BUILD_ENV,
    GitSource,
    api_link,
    dockerfile,
    dockyard_cli,
    dockyard_here,
    log_text,
    publish_base,
    wait_for,
)
from tests.conftest import Cli, DockyardServer, GitDaemon, require_tool

pytestmark = pytest.mark.docker

PASSWORD = "builds-password-123"


@pytest.fixture
def token_server(tmp_path: Path, docker_cli: Cli, base_image: str) -> Iterator[DockyardServer]:
    require_tool("git")
    with DockyardServer(tmp_path / "data", env=BUILD_ENV) as server:
        for name in ("alice", "bobby"):
            dockyard_here(server, "user", "create", name, "--password-stdin", input=PASSWORD + "\n")
        yield server


def test_build_pushes_with_the_linking_accounts_rights(
    token_server: DockyardServer, tmp_path: Path, docker_cli: Cli, git_daemon: GitDaemon
) -> None:
    alice = ("alice", PASSWORD)
    api = f"{token_server.url}/api/build/repositories/alice/app/link"
    body = {"source_url": "/nowhere"}
    # 30 s, as everywhere in the build tests: httpx's default 5 s timed out on a machine running
    # three suites at once (the server's first requests, now that no CLI process precedes them).
    assert httpx.put(api, json=body, timeout=30).status_code == 401
    assert httpx.put(api, json=body, auth=("bobby", PASSWORD), timeout=30).status_code == 404
    assert httpx.put(api, json=body, auth=("alice", "wrong-password"), timeout=30).status_code == 401
    base_image = publish_base(token_server, docker_cli, alice)
    own = GitSource(tmp_path / "own", require_tool("git"), git_daemon)
    api_link(token_server, "alice/app", own, auth=alice)  # alice's link: builds push as alice
    own.commit({"Dockerfile": dockerfile('CMD ["echo", "built by dockyard"]', base=base_image)}, "one")
    own.push("main")
    [build] = wait_for(token_server, "alice/app", 1, auth=alice)
    assert build["state"] == "success", log_text(token_server, build["id"], auth=alice)

    image = f"{token_server.host}/alice/app:latest"  # public: an anonymous pull works
    docker_cli("rmi", image, check=False)
    docker_cli("pull", image)
    try:
        assert docker_cli("run", "--rm", "--network=none", image).stdout.strip() == "built by dockyard"
    finally:
        docker_cli("rmi", image, check=False)

    # Only an administrator of a repository may link it on an account's behalf ...
    refused_link = dockyard_cli(
        token_server, "build", "link", "alice/stolen", "/nowhere", "--created-by", "bobby", check=False
    )
    assert refused_link.returncode != 0 and "bobby may not link alice/stolen" in refused_link.stderr
    # ... and a link whose account lost its rights since cannot push.
    for command in (
        ("org", "create", "acme", "--owner", "alice"),
        ("team", "create", "acme", "devs"),
        ("team", "add-member", "acme", "devs", "bobby"),
        ("repo", "create", "acme/app"),
        ("team", "grant", "acme", "devs", "acme/app", "--permission", "admin"),
    ):
        dockyard_here(token_server, *command)
    other = GitSource(tmp_path / "other", require_tool("git"), git_daemon)
    api_link(token_server, "acme/app", other, auth=("bobby", PASSWORD))  # bobby admins it, for now
    dockyard_here(token_server, "team", "grant", "acme", "devs", "acme/app", "--permission", "read")
    other.commit({"Dockerfile": dockerfile(base=base_image)}, "not bobby's to push any more")
    other.push("main")
    [refused] = wait_for(token_server, "acme/app", 1, auth=alice)  # its organisation's owner
    assert refused["state"] == "failed" and "bobby may not push to acme/app" in str(refused["error"])
    assert httpx.get(f"{token_server.url}/v2/acme/app/tags/list").status_code in (401, 404)
