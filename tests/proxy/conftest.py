"""Fixtures for the pull-through cache tests: upstream registries and a Dockyard that proxies them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import DockyardServer

# Upstreams on loopback are what these tests use; production refuses them unless allowed.
PROXY_ENV = {"DOCKYARD_PROXY_ALLOW_PRIVATE": "true"}


def dockyard_cli(server: DockyardServer, *args: str, input: str | None = None) -> str:
    """Run `dockyard ARGS --data-dir` against the server's data folder; its stdout and stderr."""
    command = [str(Path(sys.executable).parent / "dockyard"), *args, "--data-dir", str(server.data_dir)]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        input=input,
        timeout=60,
        env={**os.environ, **server.env},
        check=False,
    )
    assert result.returncode == 0, f"$ {' '.join(command)}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr
