"""The data folder, checked before any command touches it.

Only ``dockyard serve`` and ``dockyard migrate`` may start a new instance; every other command
needs an existing one, so a mistyped ``--data-dir`` is one clear line instead of a second,
empty Dockyard. A folder that cannot be used (a file, not writable, a database from a newer
Dockyard) is one line too: ``DataDirError``, whose text is the whole message.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from dockyard.config import Settings
from dockyard.db.engine import sync_url
from dockyard.filemodes import make_private
from dockyard.migrations import History, alembic_config, history, upgrade
from dockyard.secretbox import SecretBox

DATABASE = "dockyard.db"


class DataDirError(Exception):
    """The data folder or its database cannot be used; ``str()`` says why in one line."""


def prepare(settings: Settings, *, create: bool) -> None:
    folder = settings.data_dir
    _check_folder(folder, create)
    database = folder / DATABASE if not settings.database_url else None
    if database is not None:
        _check_database(folder, database, create)
    try:
        make_private(settings)  # before anything is made: every file from here on is the owner's alone
    except OSError as exc:
        raise DataDirError(f"cannot prepare the data folder {folder}: {_os_reason(exc)}") from None
    url = settings.resolved_database_url
    where = str(database) if database is not None else "the configured database"
    try:
        current = _check_schema(url, where)
        secrets = SecretBox.from_settings(settings)  # a new instance's key is made here, current or not
        if not current:
            upgrade(url, secrets=secrets)
    except SQLAlchemyError as exc:
        raise DataDirError(f"cannot use {where}: {_reason(exc)}") from None


def say_first_administrator_hint(settings: Settings) -> None:
    """On a fresh install, say on stderr how to create the first account (nobody can log in yet).

    The server process asks once its application is loaded (dockyard.launch), whose imports this
    shares: in the CLI process the accounts' read models alone cost ~0.3 s of CPU."""
    from dockyard.accounts.readmodels import user_count
    from dockyard.db.engine import make_database

    db = make_database(settings.resolved_database_url)
    try:
        with db.read.connect() as conn:
            users = user_count(conn)
    finally:
        db.dispose()
    if not users:
        print(
            "No users yet. Create the first administrator with:\n"
            f"  dockyard user create NAME --admin --data-dir {settings.data_dir}",
            file=sys.stderr,
            flush=True,
        )


def _check_folder(folder: Path, create: bool) -> None:
    try:
        folder.stat()
    except PermissionError:
        raise DataDirError(
            f"{folder} cannot be reached by this user (uid {os.getuid()}): permission denied"
        ) from None
    except OSError:
        pass  # missing: created or reported below
    if folder.exists() and not folder.is_dir():
        raise DataDirError(f"{folder} is a file, not a data folder")
    if not folder.exists():
        if not create:
            raise _no_data(folder)
        return  # make_private creates it, owner-only
    if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        raise DataDirError(f"{folder} is not readable and writable by this user (uid {os.getuid()})")


def _check_database(folder: Path, database: Path, create: bool) -> None:
    if not database.exists():
        if not create:
            raise _no_data(folder)
        return
    if not database.is_file():
        raise DataDirError(f"{database} is not a file")
    if not os.access(database, os.R_OK | os.W_OK):
        raise DataDirError(f"{database} is not readable and writable by this user (uid {os.getuid()})")


def _check_schema(url: str, where: str) -> bool:
    """Whether the database is at the newest migration; False when it needs an upgrade. A database
    migrated by a newer Dockyard is left alone: downgrading it would lose data.

    A current database costs one query: Alembic is imported only to upgrade (dockyard.migrations)."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return False
            found = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()
    known = history() or _alembic_history(url)
    if found == {known.head}:
        return True
    unknown = sorted(found - known.known)
    if unknown:
        raise DataDirError(
            f"{where} has schema version {', '.join(unknown)}, from a newer Dockyard than this one "
            f"(which knows up to {known.head}): run the newer Dockyard, or restore a backup"
        )
    return False


def _alembic_history(url: str) -> History:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config(url))
    heads = ", ".join(scripts.get_heads())  # several: never current, and the upgrade says why
    return History(frozenset(script.revision for script in scripts.walk_revisions()), heads)


def _no_data(folder: Path) -> DataDirError:
    return DataDirError(f"no Dockyard data at {folder}; run dockyard serve or dockyard migrate first")


def _os_reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's own words (``attempt to write a readonly database``), without SQL or links."""
    original = getattr(exc, "orig", None)
    return str(original if original is not None else exc).splitlines()[0]
