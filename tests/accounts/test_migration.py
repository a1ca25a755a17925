"""Migration 0002: upgrades a database that already holds registry data, agrees with the models,
and downgrades without losing the registry's rows."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dockyard.migrations import alembic_config
from dockyard.migrations.schema import METADATA


def _seed_0001(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO repositories (name, created_at) VALUES "
            "('alice/app', '2026-01-01 00:00:00'), ('library/busybox', '2026-01-01 00:00:00'), "
            "('acme/a/b', '2026-01-01 00:00:00')"
        )
        conn.exec_driver_sql("INSERT INTO blobs VALUES ('sha256:x', 1, '2026-01-01 00:00:00')")
        conn.exec_driver_sql("INSERT INTO repository_blobs VALUES (1, 'sha256:x', '2026-01-01 00:00:00')")


def test_upgrade_keeps_registry_data_and_matches_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dockyard.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0001")
    engine = sa.create_engine(url)
    try:
        _seed_0001(engine)
        command.upgrade(config, "head")
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT name, namespace, is_private, description, full_description, created_by "
                "FROM repositories ORDER BY id"
            ).all()
            assert [tuple(r) for r in rows] == [
                ("alice/app", "alice", 0, "", "", None),
                ("library/busybox", "library", 0, "", "", None),
                ("acme/a/b", "acme", 0, "", "", None),
            ]
            assert compare_metadata(MigrationContext.configure(conn), METADATA) == []

        command.downgrade(config, "0001")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM repositories").scalar_one() == 3
            assert conn.exec_driver_sql("SELECT count(*) FROM repository_blobs").scalar_one() == 1
            tables = set(sa.inspect(conn).get_table_names())
            assert not tables & {"users", "namespaces", "access_tokens", "audit_events", "teams"}
        command.upgrade(config, "head")
    finally:
        engine.dispose()


def test_postgresql_ddl_renders() -> None:
    """No SQLite-only constructs: every table compiles for PostgreSQL."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    for table in METADATA.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=dialect))
        assert "DEFAULT 0" not in ddl and "DEFAULT 1" not in ddl, ddl
