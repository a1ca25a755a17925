"""Start and stop the two registries under test, each on a free loopback port with fresh storage.

Each server runs in its own session (process group) so that stopping it also stops any workers it
forked; its output goes to a log file in the work directory, quoted when it fails to start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import auth

DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    argv: list[str]
    port: int
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self, timeout: float = 60.0) -> None:
        log = open(self.log_path, "wb")  # noqa: SIM115 - handed to the child, closed on stop
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env={**os.environ, **self.env},
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before it was ready:\n"
                                   + self.log_tail())
            if self._answers():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer GET /v2/ within {timeout:.0f}s:\n" + self.log_tail())

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.base + "/v2/", timeout=2) as resp:
                return bool(resp.status == 200)
        except urllib.error.HTTPError as exc:
            return exc.code == 401  # listening, wants credentials
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = self.proc.pid  # start_new_session: the server leads its own process group
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait()
        with contextlib.suppress(ProcessLookupError):  # workers that outlived their parent
            os.killpg(pgid, signal.SIGKILL)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])


def distribution(binary: str, workdir: Path) -> Server:
    port = free_port()
    root = workdir / "distribution-data"
    root.mkdir(parents=True, exist_ok=True)
    config = workdir / "distribution.yml"
    config.write_text(DISTRIBUTION_CONFIG.format(root=root, port=port))
    return Server("distribution", [binary, "serve", str(config)], port, workdir)


def dockyard(binary: str, workdir: Path, extra: list[str], auth_mode: str) -> Server:
    """Dockyard on fresh storage: open like distribution (``none``), or with ``token`` auth."""
    port = free_port()
    data = workdir / "dockyard-data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data), *extra]
    # Quiet logs and no access log, as for distribution (accesslog disabled); settings given in
    # ``extra`` (CLI options) still win.
    env = {"DOCKYARD_LOG_LEVEL": "error", "DOCKYARD_AUTH": auth_mode, "DOCKYARD_ACCESS_LOG": "off"}
    if auth_mode == "token":
        env["DOCKYARD_TOKEN_TTL_SECONDS"] = str(auth.TOKEN_TTL_SECONDS)
        auth.create_user(binary, data, {**os.environ, **env})
    return Server("dockyard", argv, port, workdir, env=env)
