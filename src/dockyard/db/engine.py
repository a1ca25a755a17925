"""The async engine, built once per app from settings, and Alembic upgrades."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers proceed during writes (and across worker processes);
    # busy_timeout makes concurrent writers wait instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, pool_size=8, max_overflow=8)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def sync_url(url: str) -> str:
    """Alembic runs synchronously; map async drivers to their sync twins."""
    return url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")


def upgrade(url: str) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    sync = sync_url(url)
    if sync.startswith("sqlite"):
        # Create WAL mode before Alembic's own connection touches the file.
        engine = create_engine(sync)
        event.listen(engine, "connect", _sqlite_pragmas)
        with engine.connect():
            pass
        engine.dispose()
    command.upgrade(alembic_config(sync), "head")
