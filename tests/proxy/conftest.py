"""Fixtures for the pull-through cache tests: upstream registries and a Dockyard that proxies them."""

from __future__ import annotations

from tests.access.helpers import cli_here
from tests.conftest import DockyardServer

# Upstreams on loopback are what these tests use; production refuses them unless allowed.
PROXY_ENV = {"DOCKYARD_PROXY_ALLOW_PRIVATE": "true"}


def dockyard_cli(server: DockyardServer, *args: str, input: str | None = None) -> str:
    """Run `dockyard ARGS --data-dir` against the server's data folder, with its settings, by the
    CLI app in this process (the executable is tested in tests/accounts/test_cli.py); its stdout and
    stderr."""
    result = cli_here(server.data_dir, *args, input=input, env=server.env)
    return result.stdout + result.stderr
