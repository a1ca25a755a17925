"""Build sources reach public addresses only, and say nothing of what a target answered
(issue 8, item 10).

A server with DOCKYARD_BUILD_ALLOW_PRIVATE_SOURCES off links sources on loopback (by address and
by a name resolving there), on an IPv4-mapped IPv6 address, on the private network and at the
cloud metadata address; a listener answers any connection with a banner. Every build fails
before connecting and the banner never shows. With private sources allowed, a redirect from the
source is still not followed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.builds.conftest import GitSource, dockerfile, log_text, wait_for
from tests.conftest import Cli, DockyardServer, GitDaemon, require_tool
from tests.security._build_sandbox import (
    BANNER,
    GitHttp,
    Listener,
    build_of,
    link_api,
    push_event,
    sandbox_server,
)

pytestmark = pytest.mark.docker

COMMIT = "0123456789abcdef" * 2 + "01234567"
PUBLIC_ONLY = {"DOCKYARD_BUILD_ALLOW_PRIVATE_SOURCES": "false"}


@pytest.fixture(scope="module")
def public_only(
    tmp_path_factory: pytest.TempPathFactory, docker_cli: Cli, base_image: str
) -> Iterator[DockyardServer]:
    with sandbox_server(tmp_path_factory.mktemp("public") / "data", docker_cli, PUBLIC_ONLY) as (server, _):
        yield server


@pytest.fixture
def listener() -> Iterator[Listener]:
    found = Listener()
    yield found
    found.close()


def test_sources_on_internal_addresses_are_refused_without_connecting(
    public_only: DockyardServer, listener: Listener
) -> None:
    """Loopback (address and name), IPv4-mapped loopback, private and metadata addresses: each build
    fails with the reason, nothing connects to the listener, the trigger's ref listing is refused
    the same way, and no byte of the listener's banner reaches a log or an answer."""
    port = listener.port
    urls = {
        f"git://127.0.0.1:{port}/repo.git": "not a public address",
        f"http://127.0.0.1:{port}/repo.git": "not a public address",
        f"ssh://git@127.0.0.1:{port}/repo.git": "not a public address",
        f"http://localhost:{port}/repo.git": "not a public address",
        f"git://[::ffff:127.0.0.1]:{port}/repo.git": "not a public address",
        "git://10.0.0.1:6379/": "not a public address",
        "http://169.254.169.254/latest/meta-data/": "cloud metadata address",
    }
    repositories = {}
    for url in urls:
        repository = f"outbound/src-{uuid.uuid4().hex[:8]}"
        push_event(link_api(public_only, repository, url), COMMIT)
        repositories[repository] = url
    done = {url: wait_for(public_only, repository, 1)[0] for repository, url in repositories.items()}
    assert listener.received == [], "a build source connected to a loopback port"
    for url, build in done.items():
        log = log_text(public_only, build["id"])
        assert BANNER[:4] not in log, log  # git would quote the first bytes of a non-git answer
        assert build["state"] == "failed" and urls[url] in str(build["error"]), (url, log)
    first = next(iter(repositories))
    trigger = httpx.post(f"{public_only.url}/api/build/repositories/{first}/trigger", json={}, timeout=30)
    assert trigger.status_code == 400 and BANNER[:4] not in trigger.text, trigger.text
    assert listener.received == [], "a build source connected to a loopback port"


def test_a_redirect_from_the_source_is_not_followed(
    tmp_path: Path, docker_cli: Cli, base_image: str, git_daemon: GitDaemon, listener: Listener
) -> None:
    """Even where private sources are allowed, git follows no redirect: the host it would lead to
    is never contacted (and its checks could not pin it)."""
    source = GitSource(tmp_path / "git", require_tool("git"), git_daemon)
    redirecting = GitHttp(tmp_path, redirect_to=f"http://127.0.0.1:{listener.port}")
    try:
        with sandbox_server(tmp_path / "data", docker_cli) as (server, base):
            made = link_api(server, "outbound/redirect", redirecting.url(source.bare))
            commit = source.commit({"Dockerfile": dockerfile(base=base)}, "moved")
            source._run("push", "-q", "origin", "main")
            push_event(made, commit)
            build, log = build_of(server, "outbound/redirect")
    finally:
        redirecting.close()
    assert listener.received == [], "git followed the redirect"
    assert build["state"] == "failed", log
