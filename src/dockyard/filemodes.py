"""File modes: the data folder, private to the account Dockyard runs as.

    <data_dir>/                 0700   alone enough to keep other local users out of all below
        dockyard.db             0600   password hashes, tokens' hashes, private repositories
        dockyard.db-wal, -shm   0600   (SQLite gives them the database file's mode)
        storage/                0700   blobs, private ones too, and upload sessions
        auth/, keys/            0700   the token signing key, the secrets key (files 0600)
        builds/                 0700   build workspaces

``make_private`` runs before anything else opens the folder (``server.prepare``: ``serve`` and
every CLI command). It sets the process umask to 077, so whatever is made from then on (the
database and its WAL and SHM files, blobs, upload sessions, keys, workspaces; by this process and
the server workers it starts) is private, and it tightens what an older Dockyard left readable:
the folder, its top-level entries, the database files and the secrets key. The storage tree itself
is not walked at every start (a million blobs); nobody else can enter the folder above it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path

from dockyard.config import Settings

log = logging.getLogger(__name__)

UMASK = 0o077
PRIVATE_DIR = 0o700
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def make_private(settings: Settings) -> None:
    os.umask(UMASK)
    data_dir = settings.data_dir
    data_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    _tighten(data_dir)
    for entry in data_dir.iterdir():
        _tighten(entry)
    database = sqlite_path(settings.resolved_database_url)
    if database is not None:
        for suffix in SQLITE_SUFFIXES:
            _tighten(database.with_name(database.name + suffix))
    _tighten(settings.secrets_key_path)


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory SQLite."""
    if not url.startswith("sqlite"):
        return None
    _, _, path = url.partition(":///")
    return Path(path.split("?", 1)[0]) if path and path != ":memory:" else None


def _tighten(path: Path) -> None:
    """Take group and other permissions away from a file or folder we own; leave links alone."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode) or not info.st_mode & 0o077:
        return
    try:
        os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)  # the owner's bits, nobody else's
    except PermissionError:
        log.warning("could not make %s private (owned by another account?)", path)


def create_private_file_once(path: Path, content: bytes) -> None:
    """Write ``content`` to a new 0600 file at ``path`` unless another process got there first.

    Workers starting together race to make the same key: each writes a private temporary file
    and hard-links it into place, which fails for all but the first, so every worker ends up
    reading the same bytes.
    """
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another worker won the race: use its key
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
