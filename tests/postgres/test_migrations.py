"""The schema's history on PostgreSQL: every migration upgrades and downgrades with data in the
tables (batch_alter, server defaults, booleans, sealed webhook secrets), the result agrees with the
models, replicas that migrate at once wait for each other, and timestamps are aware on both."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from dockyard.db.engine import make_database, sync_url
from dockyard.db.models import Repository
from dockyard.migrations import alembic_config
from dockyard.migrations.schema import METADATA
from dockyard.secretbox import SecretBox
from tests.postgres.fixtures import (  # noqa: F401 (fixtures)
    _admin,
    admin_url,
    database_url,
    postgres_template,
    postgres_url,
    with_database,
)


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A PostgreSQL database with no schema at all."""
    import uuid

    name = f"dockyard_empty_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    yield with_database(admin_url(), name)
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


SEEDS = {
    # Rows as each revision's schema holds them, so the next migrations convert real data.
    "0001": [
        "INSERT INTO repositories (name, created_at) VALUES ('alice/app', '2026-01-01 00:00:00+00'), "
        "('library/busybox', '2026-01-01 00:00:00+00')",
        "INSERT INTO blobs VALUES ('sha256:x', 1, '2026-01-01 00:00:00+00')",
        "INSERT INTO repository_blobs VALUES (1, 'sha256:x', '2026-01-01 00:00:00+00')",
    ],
    "0004": [
        "INSERT INTO webhooks (repository_id, name, url, secret, active, created_at) "
        "VALUES (1, 'ci', 'https://ci.example.com/hook', 'sh', true, '2026-01-01 00:00:00+00')",
    ],
}


def test_every_migration_runs_up_and_down_on_postgresql(empty_postgres: str, tmp_path: Path) -> None:
    config = alembic_config(sync_url(empty_postgres))
    config.attributes["secrets"] = SecretBox.from_data_dir(tmp_path)  # 0005 seals webhook secrets
    engine = sa.create_engine(sync_url(empty_postgres))
    try:
        for revision in revisions():
            command.upgrade(config, revision)
            with engine.begin() as conn:
                for statement in SEEDS.get(revision, []):
                    conn.exec_driver_sql(statement)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, METADATA) == []
            rows = conn.exec_driver_sql(
                "SELECT name, namespace, is_private FROM repositories ORDER BY id"
            ).all()
            assert [tuple(row) for row in rows] == [
                ("alice/app", "alice", False),
                ("library/busybox", "library", False),
            ]
            sealed = conn.exec_driver_sql("SELECT sealed_url FROM webhooks").scalar_one()
            assert b"ci.example.com" not in sealed
        command.downgrade(config, "base")
        with engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}
        command.upgrade(config, "head")
    finally:
        engine.dispose()


def test_replicas_migrating_at_once_wait_for_each_other(empty_postgres: str) -> None:
    """Three processes upgrade one empty database together: without the advisory lock they race
    to create the same tables and some fail; with it each waits, and finds the work done."""
    code = "import sys; from dockyard.migrations import upgrade; upgrade(sys.argv[1])"
    processes = [
        subprocess.Popen([sys.executable, "-c", code, empty_postgres], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    failures = []
    for process in processes:
        _, errors = process.communicate(timeout=300)
        if process.returncode != 0:
            failures.append(errors[-2000:])
    assert failures == []
    engine = sa.create_engine(sync_url(empty_postgres))
    try:
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == revisions()[-1]
    finally:
        engine.dispose()


def test_timestamps_come_back_aware_in_utc(database_url: str) -> None:  # noqa: F811
    database = make_database(database_url)
    written = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    try:
        with database.write.begin() as conn:
            conn.execute(sa.insert(Repository).values(name="tz/check", created_at=written))
        with database.read.connect() as conn:
            read = conn.execute(
                sa.select(Repository.created_at).where(Repository.name == "tz/check")
            ).scalar_one()
        assert read == written and read.tzinfo is not None and read.utcoffset() == timedelta(0)
        assert read == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    finally:
        database.dispose()
