"""The local-folder backend: atomic writes (temp file, fsync, rename) on one filesystem.

A full disk (ENOSPC, EDQUOT) on any write becomes ``StorageFull``, and a write that fails leaves
no temporary file and no directory it created behind.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from dockyard.storage.driver import FileInfo, PathNotFound, StorageError, StorageFull
from dockyard.storage.space import FULL_ERRNOS

READ_CHUNK = 1024 * 1024


@contextlib.contextmanager
def _full_disk_as(path: Path | str) -> Iterator[None]:
    """ENOSPC and EDQUOT become StorageFull; other errors pass unchanged."""
    try:
        yield
    except OSError as exc:
        if exc.errno in FULL_ERRNOS:
            raise StorageFull(str(path)) from exc
        raise


def _make_parents(full: Path, root: Path) -> list[Path]:
    """Create the missing directories above ``full``; returns them, outermost first."""
    created = []
    parent = full.parent
    while parent != root and not parent.exists():
        created.append(parent)
        parent = parent.parent
    for directory in reversed(created):
        with contextlib.suppress(FileExistsError):
            directory.mkdir()
    return list(reversed(created))


def _remove_empty(directories: list[Path]) -> None:
    """Undo ``_make_parents`` after a failed write (innermost first, only if still empty)."""
    for directory in reversed(directories):
        with contextlib.suppress(OSError):
            directory.rmdir()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemWriter:
    def __init__(self, path: Path, file: BinaryIO) -> None:
        self._path = path
        self._file = file
        self._size = file.tell()

    @property
    def size(self) -> int:
        return self._size

    async def write(self, chunks: Sequence[bytes]) -> None:
        await anyio.to_thread.run_sync(self._write_sync, chunks)

    def _write_sync(self, chunks: Sequence[bytes]) -> None:
        write = self._file.write
        with _full_disk_as(self._path):
            for chunk in chunks:
                write(chunk)
        self._size += sum(len(c) for c in chunks)

    async def commit(self) -> None:
        await anyio.to_thread.run_sync(self._commit_sync)

    def _commit_sync(self) -> None:
        with _full_disk_as(self._path):
            try:
                self._file.flush()
                os.fsync(self._file.fileno())
            finally:
                self._file.close()

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self._close_sync)

    def _close_sync(self) -> None:
        with _full_disk_as(self._path):
            self._file.close()  # flushes what is buffered, which may not fit

    async def cancel(self) -> None:
        def cancel() -> None:
            self._file.close()
            self._path.unlink(missing_ok=True)

        await anyio.to_thread.run_sync(cancel)


class FilesystemDriver:
    name = "filesystem"

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _full(self, path: str) -> Path:
        full = (self.root / path).resolve()
        # Paths come from our own layout, never from users; this guards against bugs.
        if full != self.root and self.root not in full.parents:
            raise StorageError(f"path escapes the storage root: {path}")
        return full

    async def stat(self, path: str) -> FileInfo:
        full = self._full(path)
        try:
            st = await anyio.to_thread.run_sync(os.stat, full)
        except FileNotFoundError:
            raise PathNotFound(path) from None
        return FileInfo(path, st.st_size, st.st_mtime, is_dir=full.is_dir())

    async def get_content(self, path: str) -> bytes:
        try:
            return await anyio.to_thread.run_sync(self._full(path).read_bytes)
        except (FileNotFoundError, NotADirectoryError):
            raise PathNotFound(path) from None

    async def put_content(self, path: str, data: bytes) -> None:
        await anyio.to_thread.run_sync(self._put_sync, self._full(path), data)

    def _put_sync(self, full: Path, data: bytes) -> None:
        with _full_disk_as(full):
            created = _make_parents(full, self.root)
            tmp = None
            try:
                fd, tmp = tempfile.mkstemp(dir=full.parent, prefix=".tmp-")
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, full)
            except BaseException:
                if tmp is not None:
                    Path(tmp).unlink(missing_ok=True)
                _remove_empty(created)
                raise

    async def reader(self, path: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        full = self._full(path)
        try:
            f = await anyio.to_thread.run_sync(open, full, "rb")
        except FileNotFoundError:
            raise PathNotFound(path) from None
        try:
            f.seek(offset)
            remaining = length
            while remaining is None or remaining > 0:
                size = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
                chunk = await anyio.to_thread.run_sync(f.read, size)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            f.close()

    async def writer(self, path: str, *, append: bool = False) -> FilesystemWriter:
        full = self._full(path)

        def open_sync() -> BinaryIO:
            if append:
                try:
                    f = open(full, "r+b")  # noqa: SIM115 - the writer owns the file
                except FileNotFoundError:
                    raise PathNotFound(path) from None
                f.seek(0, os.SEEK_END)
                return f
            with _full_disk_as(full):
                created = _make_parents(full, self.root)
                try:
                    return open(full, "wb")
                except BaseException:
                    _remove_empty(created)
                    raise

        return FilesystemWriter(full, await anyio.to_thread.run_sync(open_sync))

    async def move(self, source: str, dest: str) -> None:
        src, dst = self._full(source), self._full(dest)

        def move_sync() -> None:
            with _full_disk_as(dest):
                created = _make_parents(dst, self.root)
                try:
                    os.replace(src, dst)
                except FileNotFoundError:
                    _remove_empty(created)
                    raise PathNotFound(source) from None
                except BaseException:
                    _remove_empty(created)
                    raise
                _fsync_dir(dst.parent)

        await anyio.to_thread.run_sync(move_sync)

    async def delete(self, path: str) -> None:
        full = self._full(path)

        def delete_sync() -> None:
            if full.is_dir():
                shutil.rmtree(full)
            else:
                try:
                    full.unlink()
                except FileNotFoundError:
                    raise PathNotFound(path) from None

        await anyio.to_thread.run_sync(delete_sync)

    async def list(self, path: str) -> list[str]:
        full = self._full(path)

        def list_sync() -> list[str]:
            try:
                names = sorted(os.listdir(full))
            except (FileNotFoundError, NotADirectoryError):
                raise PathNotFound(path) from None
            prefix = path.rstrip("/")
            return [f"{prefix}/{name}" if prefix else name for name in names]

        return await anyio.to_thread.run_sync(list_sync)

    def local_file(self, path: str) -> Path | None:
        return self._full(path)

    async def redirect_url(self, path: str) -> str | None:
        return None  # the server sends the file itself (sendfile)

    async def walk(self, path: str) -> AsyncIterator[FileInfo]:
        """One directory per thread hop: a page of the tree, never the whole of it."""
        pending = [path.strip("/")]
        while pending:
            directory = pending.pop()
            entries = await anyio.to_thread.run_sync(self._scan, directory)
            files = [entry for entry in entries if not entry.is_dir]
            # Depth first: a directory's files, then its subdirectories.
            pending.extend(entry.path for entry in reversed(entries) if entry.is_dir)
            for entry in files:
                yield entry

    def _scan(self, directory: str) -> builtins.list[FileInfo]:
        try:
            with os.scandir(self._full(directory)) as it:
                found = sorted(it, key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError):
            return []
        prefix = f"{directory}/" if directory else ""
        infos = []
        for entry in found:
            if entry.name.startswith(".tmp-"):
                continue  # a put_content in flight
            st = entry.stat()
            infos.append(FileInfo(prefix + entry.name, st.st_size, st.st_mtime, is_dir=entry.is_dir()))
        return infos

    async def delete_many(self, paths: Sequence[str]) -> None:
        def delete_sync() -> None:
            for path in paths:
                self._full(path).unlink(missing_ok=True)

        await anyio.to_thread.run_sync(delete_sync)
