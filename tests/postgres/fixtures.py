"""Both metadata databases for the database-level suites: SQLite, and PostgreSQL.

    database_url (function, params sqlite | postgresql)   a freshly migrated database of the test's own
    postgres_url (function)                               a PostgreSQL database cloned from the template
    postgres_template (session)                           a PostgreSQL database migrated to head once

PostgreSQL comes from DOCKYARD_TEST_POSTGRES_URL (an account that may CREATE DATABASE; `.ci/run`
starts a cluster with `.ci/postgres.sh` and exports it). Without it the postgresql cases skip,
except under CI=true, where they fail. Each test gets its own database made with
``CREATE DATABASE ... TEMPLATE`` (a file copy inside the server, ~30 ms) and dropped afterwards.

A conftest imports the fixtures it wants (``from tests.postgres.fixtures import database_url,
postgres_template, postgres_url``), or the root conftest lists this module in ``pytest_plugins``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import in_ci

ADMIN_URL_ENV = "DOCKYARD_TEST_POSTGRES_URL"
DATABASES = ("sqlite", "postgresql")


def admin_url() -> str:
    url = os.environ.get(ADMIN_URL_ENV, "")
    if not url:
        why = f'{ADMIN_URL_ENV} is not set (eval "$(bash .ci/postgres.sh)" starts a cluster)'
        if in_ci():
            pytest.fail(f"PostgreSQL unavailable: {why}")
        pytest.skip(f"PostgreSQL unavailable: {why}")
    return url


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]  # names are ours, never user input


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    from dockyard.migrations import upgrade

    name = f"dockyard_template_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    url = with_database(admin_url(), name)
    try:
        upgrade(url)
        yield url
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def cloned(template_url: str) -> Iterator[str]:
    """A database of its own copied from the template, dropped on leaving (for fixtures of any scope)."""
    template = template_url.rpartition("/")[2]
    name = f"dockyard_test_{uuid.uuid4().hex[:12]}"
    # FILE_COPY: a checkpoint and a file copy, 2-3x faster than logging every page (PostgreSQL 15's default).
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    try:
        yield with_database(template_url, name)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_template: str) -> Iterator[str]:
    with cloned(postgres_template) as url:
        yield url


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    # SQLite: a copy of the session's migrated template (tests/conftest.py), as everywhere else.
    target = tmp_path / "dockyard.db"
    shutil.copyfile(request.getfixturevalue("template_database"), target)
    return f"sqlite:///{target}"
