"""Room on the disk: what a full disk looks like, and the reserve that keeps deletes possible.

A full disk shows up as ``ENOSPC`` (or ``EDQUOT``) from the OS, as SQLite's ``SQLITE_FULL``
("database or disk is full") and as PostgreSQL's ``disk_full`` (SQLSTATE 53100);
``is_disk_full`` recognises all of them, wrapped or not. Storage drivers raise ``StorageFull``.

Deleting needs room too: SQLite writes every change to its write-ahead log first, so on a disk
with no free byte a delete fails like a push. The data folder therefore keeps a reserve file
of ``size`` bytes (allocated, not sparse) beside the database:

    present    writes proceed; a delete that finds the disk full releases it and tries again
    absent     (released, or never made) every write first tries to make it anew; while there is
               no room for it, writes are refused, so what a delete freed stays for deletes

Every worker process of a server shares the one file, so they agree on the state.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

from dockyard.storage.driver import StorageFull

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
SQLITE_FULL = 13
POSTGRES_DISK_FULL = "53100"


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps: a DBAPI error's ``orig``, its cause) says the disk is full."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        candidate = pending.pop()
        if id(candidate) in seen:
            continue
        seen.add(id(candidate))
        if isinstance(candidate, StorageFull):
            return True
        if isinstance(candidate, OSError) and candidate.errno in FULL_ERRNOS:
            return True
        if getattr(candidate, "sqlite_errorcode", None) == SQLITE_FULL:
            return True
        if POSTGRES_DISK_FULL in (getattr(candidate, "sqlstate", None), getattr(candidate, "pgcode", None)):
            return True
        for wrapped in (getattr(candidate, "orig", None), candidate.__cause__, candidate.__context__):
            if isinstance(wrapped, BaseException):
                pending.append(wrapped)
    return False


class Reserve:
    """A file of ``size`` bytes that a delete may give up when the disk is full (0: none)."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size

    def present(self) -> bool:
        if self.size == 0:
            return True
        try:
            return self.path.stat().st_size >= self.size
        except FileNotFoundError:
            return False

    def ensure(self) -> bool:
        """Make the reserve if it is missing; False when the disk has no room for it."""
        if self.present():
            return True
        # One temporary name per thread: concurrent first writes each make one, the last rename wins.
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _allocate(fd, self.size)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, self.path)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            if exc.errno in FULL_ERRNOS:
                return False
            raise
        return True

    def release(self) -> bool:
        """Give the reserve's room back to the disk; False when there was none to give."""
        if self.size == 0:
            return False
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


def _allocate(fd: int, size: int) -> None:
    """Blocks really taken (a sparse file would free nothing when deleted)."""
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise
        block = b"\0" * (1024 * 1024)  # filesystems without fallocate: write zeros
        for start in range(0, size, len(block)):
            os.write(fd, block[: min(len(block), size - start)])
