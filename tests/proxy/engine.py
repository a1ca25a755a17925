"""A Docker engine of a test's own, for ``registry-mirrors``: its own --data-root, --exec-root,
--pidfile, socket and managed containerd, no network setup, vfs storage; started and stopped by
the test, so the machine's engine, which other tests use, is never restarted or reconfigured."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.conftest import Cli, require_tool


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
