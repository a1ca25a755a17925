"""A link's credentials go to its source's host alone and never into a log (issue 8, items 6-8).

The source is served over smart HTTP (git http-backend) on loopback, which records the
Authorization header of every request; a listener stands in for another host that a hostile
.gitmodules names.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builds.conftest import GitSource, dockerfile, log_text, wait_for
from tests.conftest import Cli, DockyardServer, GitDaemon, require_tool
from tests.security._build_sandbox import (
    GitHttp,
    Listener,
    add_gitlink,
    build_of,
    link_api,
    push_event,
    rewrite_source,
    sandbox_server,
)

pytestmark = pytest.mark.docker

USER = "builder"


@pytest.fixture(scope="module")
def creds_server(
    tmp_path_factory: pytest.TempPathFactory, docker_cli: Cli, base_image: str
) -> Iterator[tuple[DockyardServer, str]]:
    with sandbox_server(tmp_path_factory.mktemp("creds") / "data", docker_cli) as running:
        yield running


@pytest.fixture
def http_git(tmp_path: Path) -> Iterator[GitHttp]:
    server = GitHttp(tmp_path)
    yield server
    server.close()


def _basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"{USER}:{password}".encode()).decode()


def test_a_submodule_on_another_host_gets_no_credentials(
    creds_server: tuple[DockyardServer, str],
    tmp_path: Path,
    git_daemon: GitDaemon,
    http_git: GitHttp,
) -> None:
    """.gitmodules points a submodule at another host (a listener on loopback): the build fails
    before connecting there, and the link's password went to the source's host only."""
    server, base = creds_server
    password = f"link-password-{uuid.uuid4().hex[:12]}"
    source = GitSource(tmp_path / "src", require_tool("git"), git_daemon)
    listener = Listener()
    try:
        repository = f"creds/sub-{uuid.uuid4().hex[:8]}"
        made = link_api(
            server,
            repository,
            http_git.url(source.bare),
            credentials={"username": USER, "password": password},
        )
        add_gitlink(source, "evil", f"http://127.0.0.1:{listener.port}/capture.git")
        commit = source.commit({"Dockerfile": dockerfile(base=base)}, "hostile .gitmodules")
        source._run("push", "-q", "origin", "main")
        push_event(made, commit)
        build, log = build_of(server, repository)
    finally:
        listener.close()
    assert not any(b"Authorization" in data or password.encode() in data for data in listener.received)
    assert listener.received == [], "the build connected to the submodule's host"
    assert _basic(password) in http_git.authorizations  # the source itself got them
    assert build["state"] == "failed" and "submodule 'evil' is refused" in str(build["error"]), log
    assert password not in log


def test_a_submodule_on_the_source_host_is_fetched_with_the_credentials(
    creds_server: tuple[DockyardServer, str],
    tmp_path: Path,
    git_daemon: GitDaemon,
    http_git: GitHttp,
) -> None:
    """A relative submodule URL (../lib.git) resolves on the source's host and protocol: fetched,
    with the link's credentials, and built."""
    server, base = creds_server
    password = f"link-password-{uuid.uuid4().hex[:12]}"
    lib = GitSource(tmp_path / "lib", require_tool("git"), git_daemon)
    lib_commit = lib.commit({"lib.txt": "from the library\n"}, "lib")
    lib.push("main")
    source = GitSource(tmp_path / "app", require_tool("git"), git_daemon)
    repository = f"creds/lib-{uuid.uuid4().hex[:8]}"
    made = link_api(
        server, repository, http_git.url(source.bare), credentials={"username": USER, "password": password}
    )
    add_gitlink(source, "lib", "../../lib/source.git", lib_commit)
    lines = ("COPY lib/lib.txt /lib.txt", "RUN cat /lib.txt")
    commit = source.commit({"Dockerfile": dockerfile(*lines, base=base)}, "uses lib")
    source._run("push", "-q", "origin", "main")
    push_event(made, commit)
    build, log = build_of(server, repository)
    assert build["state"] == "success", log
    assert "from the library" in log and password not in log
    assert http_git.authorizations.count(_basic(password)) >= 2


def test_credentials_inside_a_stored_url_show_in_no_log_line(
    creds_server: tuple[DockyardServer, str],
    tmp_path: Path,
    git_daemon: GitDaemon,
    http_git: GitHttp,
) -> None:
    """A link stored with https://user:token@... (before such URLs were refused): the build uses the
    token as a header for that host, and neither the log nor the build's error shows it."""
    server, base = creds_server
    token = f"url-token-{uuid.uuid4().hex[:12]}"
    source = GitSource(tmp_path / "src", require_tool("git"), git_daemon)
    repository = f"creds/url-{uuid.uuid4().hex[:8]}"
    made = link_api(server, repository, http_git.url(source.bare))
    rewrite_source(
        server, repository, http_git.url(source.bare).replace("http://", f"http://{USER}:{token}@")
    )
    good = source.commit({"Dockerfile": dockerfile(base=base)}, "fine")
    source._run("push", "-q", "origin", "main")
    push_event(made, good)
    push_event(made, "0123456789" * 4)  # no such commit: git's errors name the URL
    done = wait_for(server, repository, 2)
    for build in done:
        log = log_text(server, build["id"])
        assert token not in log and token not in str(build["error"]), log
    assert [b["state"] for b in done] == ["success", "failed"]
    assert _basic(token) in http_git.authorizations
