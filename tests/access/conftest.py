"""Fixtures for the access-control suite (issue 3): servers with token auth on, populated by the CLI.

Each test module builds the world it needs once (module scope): users, an organisation with teams,
repositories and personal access tokens, all made with `dockyard ... --data-dir` subprocesses while
the server runs, then seeded with content over HTTP with the owner's token.
"""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def unique() -> str:
    """A short token that makes names and file contents unique to this test."""
    return uuid.uuid4().hex[:10]
