"""The local-folder backend: atomic writes (temp file, fsync, rename) on one filesystem."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from dockyard.storage.driver import FileInfo, PathNotFound, StorageError

READ_CHUNK = 1024 * 1024


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
        for chunk in chunks:
            write(chunk)
        self._size += sum(len(c) for c in chunks)

    async def commit(self) -> None:
        await anyio.to_thread.run_sync(self._commit_sync)

    def _commit_sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self._file.close)

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

    @staticmethod
    def _put_sync(full: Path, data: bytes) -> None:
        full.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=full.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, full)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
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
            full.parent.mkdir(parents=True, exist_ok=True)
            return open(full, "wb")

        return FilesystemWriter(full, await anyio.to_thread.run_sync(open_sync))

    async def move(self, source: str, dest: str) -> None:
        src, dst = self._full(source), self._full(dest)

        def move_sync() -> None:
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(src, dst)
            except FileNotFoundError:
                raise PathNotFound(source) from None
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
