"""A worker killed mid-build: after its lease runs out the build is retried elsewhere, never stuck."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builds.conftest import (
    BUILD_ENV,
    GitSource,
    api_link,
    builds,
    dockerfile,
    log_text,
    publish_base,
    wait_for,
)
from tests.conftest import OPEN_REGISTRY, Cli, DockyardServer, GitDaemon, require_tool

pytestmark = pytest.mark.docker

LEASE = {"DOCKYARD_BUILD_LEASE_SECONDS": "3", "DOCKYARD_BUILD_MAX_ATTEMPTS": "2"}


@pytest.fixture(scope="module")
def queue_only_server(
    tmp_path_factory: pytest.TempPathFactory, docker_cli: Cli, base_image: str
) -> Iterator[DockyardServer]:
    """A server that queues builds but runs none: `dockyard worker` processes do (one test at a time)."""
    require_tool("git")
    env = {**OPEN_REGISTRY, **BUILD_ENV, **LEASE, "DOCKYARD_BUILD_EMBEDDED_WORKER": "false"}
    with DockyardServer(tmp_path_factory.mktemp("lease") / "data", env=env) as server:
        yield server


def start_worker(server: DockyardServer, log: Path) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).parent / "dockyard"), "worker", "--data-dir", str(server.data_dir)]
    env = {
        **os.environ,
        **server.env,
        "DOCKYARD_PORT": str(server.port),
        "DOCKYARD_BUILD_EMBEDDED_WORKER": "true",
    }
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, process_group=0)


def test_killed_worker_build_is_retried_after_the_lease(
    queue_only_server: DockyardServer, tmp_path: Path, git_daemon: GitDaemon, docker_cli: Cli
) -> None:
    server, repository = queue_only_server, "builds/lease"
    source = GitSource(tmp_path, require_tool("git"), git_daemon)
    base = publish_base(server, docker_cli)
    api_link(server, repository, source)
    slow = dockerfile("RUN for i in 1 2 3 4 5 6; do echo tick-$i; sleep 1; done", base=base)
    commit = source.commit({"Dockerfile": slow}, "slow")
    source.push("main")

    first = start_worker(server, tmp_path / "worker-1.log")
    try:
        while not (found := builds(server, repository)) or "tick-1" not in log_text(server, found[0]["id"]):
            assert first.poll() is None, (tmp_path / "worker-1.log").read_text()
            time.sleep(0.1)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its docker client die mid-build
        first.wait()
    assert builds(server, repository)[0]["state"] == "building"

    second = start_worker(server, tmp_path / "worker-2.log")
    try:
        [build] = wait_for(server, repository, 1, timeout=90)
        log = log_text(server, build["id"])
        assert build["state"] == "success", log
        assert build["attempts"] == 2 and build["commit"] == commit
        assert "attempt 1" in log and "attempt 2" in log
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0, (tmp_path / "worker-2.log").read_text()


def test_worker_stopping_mid_build_hands_the_build_back(
    queue_only_server: DockyardServer, tmp_path: Path, git_daemon: GitDaemon, docker_cli: Cli
) -> None:
    server, repository = queue_only_server, "builds/handback"
    source = GitSource(tmp_path, require_tool("git"), git_daemon)
    base = publish_base(server, docker_cli)
    api_link(server, repository, source)
    slow = dockerfile("RUN for i in 1 2 3 4 5 6 7 8 9; do echo tick-$i; sleep 1; done", base=base)
    source.commit({"Dockerfile": slow}, "slow")
    source.push("main")

    worker = start_worker(server, tmp_path / "worker.log")
    try:
        while not (found := builds(server, repository)) or "tick-1" not in log_text(server, found[0]["id"]):
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, (tmp_path / "worker.log").read_text()
    [build] = builds(server, repository)
    assert (build["state"], build["attempts"]) == ("queued", 0)  # at once, not after the lease
    assert "goes back to the queue" in log_text(server, build["id"])
