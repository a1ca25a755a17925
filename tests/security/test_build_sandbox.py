"""Nothing from a build's source or rules runs on the host (issue 8, items 1 and 2).

Each test drives the real build worker of a real `dockyard serve`, with the source on a `git
daemon` on loopback and the real Docker engine, and looks on the host for what the attack would
leave there: a marker file, a connection to a listener, a line of the server's environment.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builds.conftest import GitSource, api_link, dockerfile
from tests.conftest import Cli, DockyardServer, GitDaemon, require_tool
from tests.security._build_sandbox import Listener, build_of, link_api, push_event, sandbox_server

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory, docker_cli: Cli, base_image: str
) -> Iterator[tuple[DockyardServer, str]]:
    with sandbox_server(tmp_path_factory.mktemp("sandbox") / "data", docker_cli) as running:
        yield running


@pytest.fixture
def source(tmp_path: Path, git_daemon: GitDaemon) -> GitSource:
    return GitSource(tmp_path / "git", require_tool("git"), git_daemon)


def _repository() -> str:
    return f"sandbox/app-{uuid.uuid4().hex[:8]}"


def test_hooks_run_in_a_sandbox_without_host_engine_or_secrets(
    sandbox: tuple[DockyardServer, str], source: GitSource, tmp_path: Path
) -> None:
    """A pre_build hook runs in a container: as nobody, with no host file, no engine socket, no
    DOCKER_CONFIG push token; what it writes reaches the build, a file on the host it cannot."""
    server, base = sandbox
    marker = tmp_path / "the-hook-ran-on-the-host"
    hook = f"""\
echo "hook-uid=$(id -u)"
touch {marker} 2>/dev/null && echo "wrote-the-host-marker"
if [ -e /var/run/docker.sock ]; then echo "engine-socket=present"; else echo "engine-socket=absent"; fi
ls {server.data_dir} >/dev/null 2>&1 && echo "data-dir=listed"
echo "docker-config=${{DOCKER_CONFIG:-unset}} docker-host=${{DOCKER_HOST:-unset}}"
echo "made by the hook" > generated.txt
"""
    repository = _repository()
    api_link(server, repository, source)
    files = {
        "Dockerfile": dockerfile("COPY generated.txt /generated.txt", "RUN cat /generated.txt", base=base),
        "hooks/pre_build": hook,
    }
    source.commit(files, "a hook")
    source.push("main")
    build, log = build_of(server, repository)
    assert not marker.exists(), "the hook wrote a file on the host"
    assert build["state"] == "success", log
    assert "hook-uid=65534" in log and "engine-socket=absent" in log, log
    assert "data-dir=listed" not in log and "wrote-the-host-marker" not in log, log
    assert "docker-config=unset docker-host=unset" in log, log
    assert "made by the hook" in log  # the sandbox handed the checkout back to the build


@pytest.mark.parametrize("hook", ["build", "push"])
def test_build_and_push_overrides_are_refused_with_a_reason(
    sandbox: tuple[DockyardServer, str], source: GitSource, tmp_path: Path, hook: str
) -> None:
    """hooks/build and hooks/push would need a Docker engine: the build fails before any hook runs,
    and the log says why and what to do instead."""
    server, base = sandbox
    marker = tmp_path / "override-ran"
    repository = _repository()
    api_link(server, repository, source)
    script = f'touch {marker}\ndocker build -t "$IMAGE_NAME" .\n'
    source.commit({"Dockerfile": dockerfile(base=base), f"hooks/{hook}": script}, "an override")
    source.push("main")
    build, log = build_of(server, repository)
    assert not marker.exists(), f"hooks/{hook} ran on the host"
    assert build["state"] == "failed", log
    assert f"hooks/{hook} is not supported" in str(build["error"])
    assert "needs a Docker engine" in log and "hooks/pre_build" in log, log


def test_rule_variables_reach_no_host_process(
    sandbox: tuple[DockyardServer, str], source: GitSource, tmp_path: Path
) -> None:
    """PATH, LD_PRELOAD and DOCKER_HOST set as rule variables change nothing on the host: the
    source's own `docker` and `git` scripts never run, no engine client dials the listener, no
    program tries the preload; the values reach the hooks' sandbox and the build arguments."""
    server, base = sandbox
    marker = tmp_path / "source-script-ran"
    listener = Listener()
    try:
        evil = f"#!/bin/sh\ntouch {marker}\nexit 1\n"
        variables = [
            {"name": "PATH", "value": ".:/usr/bin:/bin", "kind": "env"},
            {"name": "LD_PRELOAD", "value": "/nonexistent/dockyard-preload.so", "kind": "env"},
            {"name": "DOCKER_HOST", "value": f"tcp://127.0.0.1:{listener.port}", "kind": "env"},
            {"name": "DOCKER_CONFIG", "value": "/nonexistent-docker-config", "kind": "env"},
            {"name": "MODE", "value": "quick", "kind": "arg"},
        ]
        repository = _repository()
        made = link_api(
            server, repository, source.url, rules=[{"source_name": "main", "variables": variables}]
        )
        files = {
            "Dockerfile": dockerfile("ARG MODE", 'RUN echo "build-mode=$MODE"', base=base),
            "hooks/pre_build": 'echo "hook-path=$PATH"\n',
            "docker": evil,
            "git": evil,
        }
        commit = source.commit(files, "scripts named like the runner's tools", executable=("docker", "git"))
        source._run("push", "-q", "origin", "main")
        push_event(made, commit)
        build, log = build_of(server, repository)
    finally:
        listener.close()
    assert not marker.exists(), "a script from the source ran on the host"
    assert listener.received == [], "a host process dialled the DOCKER_HOST of a rule variable"
    assert "cannot be preloaded" not in log, log
    assert build["state"] == "success", log
    assert "hook-path=.:/usr/bin:/bin" in log and "build-mode=quick" in log, log


def test_hooks_off_fails_a_source_that_has_hooks(
    tmp_path: Path, docker_cli: Cli, base_image: str, git_daemon: GitDaemon
) -> None:
    """DOCKYARD_BUILD_HOOKS=off: a source with a hook fails with the reason; the hook never runs."""
    marker = tmp_path / "hook-ran"
    with sandbox_server(tmp_path / "data", docker_cli, {"DOCKYARD_BUILD_HOOKS": "off"}) as (server, base):
        source = GitSource(tmp_path / "git", require_tool("git"), git_daemon)
        api_link(server, "sandbox/off", source)
        source.commit({"Dockerfile": dockerfile(base=base), "hooks/pre_build": f"touch {marker}\n"}, "hook")
        source.push("main")
        build, log = build_of(server, "sandbox/off")
    assert not marker.exists()
    assert build["state"] == "failed" and "hooks are turned off" in str(build["error"]), log
