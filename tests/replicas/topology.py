"""The scale-out topology of docs/deploy.md, on one machine: PostgreSQL, the S3 store, replicas of
`dockyard serve` and nginx in front, each a real process.

    render_nginx(...)     deploy/nginx.conf with its {{ placeholders }} filled (what docs/deploy.md
                          shows, so the documented file is the tested one)
    Nginx(...)            Debian's nginx as a child process (`daemon off`), with a prefix of its own
                          for pid, logs and temporary files, on a free loopback port
    postgres_database()   a fresh PostgreSQL database, migrated with `dockyard migrate`, then dropped
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.conftest import free_port, require_tool
from tests.postgres.fixtures import _admin, admin_url, with_database

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"
DOCKYARD = str(Path(sys.executable).parent / "dockyard")


def render_nginx(prefix: Path, listen: str, replicas: Sequence[str], blob_root: Path | None = None) -> str:
    values = {
        "prefix": str(prefix),
        "listen": listen,
        "replicas": "\n        ".join(f"server {r} max_fails=1 fail_timeout=10s;" for r in replicas),
        "blob_root": str(blob_root or prefix / "no-blobs"),
        "user": pwd.getpwuid(os.getuid()).pw_name,  # who owns the data folders here
    }
    lines = []
    for line in TEMPLATE.read_text().splitlines(keepends=True):
        if not line.lstrip().startswith("#"):  # the comments name the placeholders
            for name, value in values.items():
                line = line.replace("{{ " + name + " }}", value)
            assert "{{" not in line, f"deploy/nginx.conf has a placeholder this does not fill: {line}"
        lines.append(line)
    return "".join(lines)


class Nginx:
    def __init__(self, prefix: Path, replicas: Sequence[str], blob_root: Path | None = None) -> None:
        self.binary = require_tool("nginx")
        self.prefix = prefix
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.config = prefix / "nginx.conf"
        prefix.mkdir(parents=True, exist_ok=True)
        self.config.write_text(render_nginx(prefix, self.host, replicas, blob_root))
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            self.binary,
            "-p",
            str(self.prefix),
            "-c",
            str(self.config),
            "-e",
            str(self.prefix / "error.log"),
        ]
        with (self.prefix / "stderr.log").open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=log, process_group=0)
        deadline = time.monotonic() + 20
        while not _listening(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is None:
            return
        process, self._process = self._process, None
        process.send_signal(signal.SIGTERM)  # fast shutdown: the master ends its workers
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def access_log(self) -> str:
        with contextlib.suppress(FileNotFoundError):
            return (self.prefix / "access.log").read_text(errors="replace")
        return ""

    def log_tail(self) -> str:
        parts = []
        for name in ("stderr.log", "error.log"):
            with contextlib.suppress(FileNotFoundError):
                parts.append(f"--- {name} ---\n{(self.prefix / name).read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def __enter__(self) -> Nginx:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def postgres_database(env: dict[str, str]) -> Iterator[str]:
    """A database of its own, migrated once by `dockyard migrate` (the first step of start-up)."""
    name = f"dockyard_topology_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    url = with_database(admin_url(), name)
    try:
        subprocess.run(
            [DOCKYARD, "migrate"],
            env={**os.environ, **env, "DOCKYARD_DATABASE_URL": url},
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield url
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
