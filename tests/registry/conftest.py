"""Fixtures for the registry protocol suite.

The servers themselves (``dockyard``, ``fresh_dockyard``) come from ``tests/conftest.py``;
this file only adds an HTTP client and unique repository names on top of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.registry.helpers import unique_repo


@pytest.fixture
def client(dockyard: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dockyard.url, timeout=30, follow_redirects=False) as http:
        yield http


@pytest.fixture
def repo() -> str:
    """A repository name no other test uses, so the session server can be shared."""
    return unique_repo()
