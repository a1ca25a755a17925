"""The schema's history: Alembic's environment (``env.py``), the migrations (``versions/``), and
upgrading a database to the newest one.

A package of the top layer, beside the composition root, because it is the one place that knows
every package's tables (``schema.py``): the lower layers (db, the domains) never import it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text

from dockyard.db.engine import Database, make_database, sync_url

if TYPE_CHECKING:
    from alembic.config import Config

    from dockyard.secretbox import SecretBox

MIGRATIONS = Path(__file__).parent
# The PostgreSQL advisory lock every migrating process takes ("dock" in ASCII): replicas that start
# together migrate one after the other, and all but the first find the schema already current.
MIGRATION_LOCK = 0x646F636B
# ``revision = "0016"`` and ``down_revision = "0015"`` (or None), as every file in versions/ says.
_REVISION_LINE = re.compile(r"""^(down_revision|revision)\s*=\s*(?:None|["']([^"']+)["'])\s*$""", re.M)


@dataclass(frozen=True)
class History:
    """The revisions versions/ holds and the newest of them, read from the files' text."""

    known: frozenset[str]
    head: str


def history() -> History | None:
    """The migration history without importing Alembic (0.7 s of CPU, paid by every command and
    every server start otherwise): a current database needs no more. None when versions/ is not a
    single straight line this reader understands (a merge, a branch): then ask Alembic.
    tests/server/test_startup_imports.py checks that this agrees with Alembic's own view."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found: dict[str, str | None] = {
            match.group(1): match.group(2) for match in _REVISION_LINE.finditer(path.read_text())
        }
        revision, parent = found.get("revision"), found.get("down_revision")
        if revision is None or "down_revision" not in found:  # written in a way not foreseen here
            return None
        revisions.add(revision)
        if parent is not None:
            parents.add(parent)
    heads = revisions - parents
    if len(heads) != 1 or not parents <= revisions:
        return None
    return History(frozenset(revisions), heads.pop())


def alembic_config(url: str) -> Config:
    from alembic.config import Config  # only migrations need Alembic; server workers never do

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, *, secrets: SecretBox | None = None) -> None:
    """Bring the schema to the newest migration (idempotent). ``secrets`` seals what older
    versions stored in plain text (a migration refuses to go on without it when there is some)."""
    from alembic import command
    from alembic.migration import MigrationContext

    database = make_database(url)  # on SQLite: WAL mode before Alembic's own connection touches the file
    with database.read.connect() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
    config = alembic_config(sync_url(url))
    config.attributes["secrets"] = secrets
    with _one_at_a_time(database):
        command.upgrade(config, "head")
    if before is not None:
        with database.read.connect() as conn:
            changed = MigrationContext.configure(conn).get_current_revision() != before
        if changed:
            # No page image from before the migration (plain secrets it sealed, say) may linger.
            database.forget_old_pages()
    database.dispose()


@contextlib.contextmanager
def _one_at_a_time(database: Database) -> Iterator[None]:
    """One migrating process at a time; the others wait, then find the schema current. On
    PostgreSQL an advisory lock (session-level, on a connection of its own); on SQLite an flock
    on a file beside the database (processes sharing a data folder share its filesystem)."""
    if database.dialect == "sqlite":
        path = database.read.url.database
        if not path or path == ":memory:":
            yield
            return
        fd = os.open(f"{path}.migrate-lock", os.O_WRONLY | os.O_CREAT, 0o600)  # empty, the owner's
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when the file closes
            yield
        finally:
            os.close(fd)
        return
    with database.write.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            conn.commit()
