"""Issue 13, item 2, with a real Docker engine: an engine whose ``registry-mirrors`` points at
Dockyard pulls a Docker Hub name (``NAME:TAG``, that is docker.io/library/NAME) that Dockyard
fetches from its instance mirror's upstream, a distribution 2.8.2 on loopback.

The engine is a dockerd of the test's own (its own --data-root, --exec-root, --pidfile, socket
and managed containerd, no network setup, vfs storage), started and stopped here: the machine's
engine, which other tests use, is never restarted or reconfigured.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli, DockyardServer, busybox_rootfs_tar, require_tool
from tests.proxy.conftest import PROXY_ENV, dockyard_cli
from tests.proxy.upstreams import Distribution


class Engine:
    """A dockerd with everything of its own below a short temporary folder (socket paths are short)."""

    def __init__(self, mirror: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dyproxy-", dir="/tmp"))
        self.socket = self.root / "docker.sock"
        command = [
            require_tool("dockerd"),
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}",
            f"--pidfile={self.root / 'docker.pid'}",
            f"--host=unix://{self.socket}",
            f"--registry-mirror={mirror}",
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--storage-driver=vfs",
        ]
        self.log = self.root / "dockerd.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, process_group=0)
        self.cli = Cli(shutil.which("docker") or "docker", (f"--host=unix://{self.socket}",))
        deadline = time.monotonic() + 60
        while self.cli("version", check=False, timeout=10).returncode != 0:
            assert self.process.poll() is None, self.log.read_text()[-4000:]
            assert time.monotonic() < deadline, "the test's dockerd did not start"
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[Distribution]:
    with Distribution(tmp_path / "upstream") as registry:
        yield registry


def test_an_engine_with_dockyard_as_registry_mirror_pulls_through_it(
    tmp_path: Path, docker_cli: Cli, upstream: Distribution
) -> None:
    name = f"dockyard-mirror-{uuid.uuid4().hex[:8]}"
    local = f"{upstream.host}/library/{name}:1"
    imported = subprocess.run(
        [docker_cli.path, "import", "-", local],
        input=busybox_rootfs_tar({"marker": name.encode()}),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    try:
        docker_cli("push", local)
    finally:
        docker_cli("rmi", local, check=False)
    with DockyardServer(tmp_path / "dockyard", env=PROXY_ENV) as server:
        dockyard_cli(server, "proxy", "add", "--mirror", upstream.url)
        engine = Engine(server.url)
        try:
            engine.cli("pull", f"{name}:1", timeout=120)
            listed = engine.cli("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
            assert f"{name}:1" in listed
        finally:
            engine.stop()
        log = server.log_path.read_text()
        assert f"GET /v2/library/{name}/manifests/" in log
