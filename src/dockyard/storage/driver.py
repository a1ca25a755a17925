"""The storage driver interface every backend implements.

Paths are slash-separated keys relative to the driver's root (see ``paths.py``).
Drivers translate their own failures into the errors below, so the layers above
never see ``FileNotFoundError`` or a vendor's ``NoSuchKey``.

    StorageError
     ├── PathNotFound
     └── StorageFull       no room left (ENOSPC, a quota); see space.py
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


class StorageError(Exception):
    """A backend failed; the message says which path and why."""


class PathNotFound(StorageError):
    def __init__(self, path: str) -> None:
        super().__init__(f"path not found: {path}")
        self.path = path


class StorageFull(StorageError):
    def __init__(self, path: str) -> None:
        super().__init__(f"no space left on the device for {path}")
        self.path = path


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    size: int
    modified: float
    is_dir: bool = False


@runtime_checkable
class FileWriter(Protocol):
    """Appends bytes to a path; nothing is durable until ``commit``."""

    @property
    def size(self) -> int:
        """Bytes in the file so far, including those written before this writer opened it."""

    async def write(self, chunks: Sequence[bytes]) -> None:
        """Append the chunks, in order."""

    async def commit(self) -> None:
        """Make the written bytes durable (fsync) and close."""

    async def close(self) -> None:
        """Close without the durability guarantee; the bytes stay for a later append."""

    async def cancel(self) -> None:
        """Close and remove everything written."""


@runtime_checkable
class StorageDriver(Protocol):
    name: str

    async def stat(self, path: str) -> FileInfo:
        """Size and modification time; PathNotFound when absent."""

    async def get_content(self, path: str) -> bytes:
        """A small file's whole content (metadata, never a blob)."""

    async def put_content(self, path: str, data: bytes) -> None:
        """Atomically replace a small file."""

    def reader(self, path: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """Stream a file's bytes from ``offset``; PathNotFound when absent."""

    async def writer(self, path: str, *, append: bool = False) -> FileWriter:
        """A writer at the end of ``path`` (new, or existing when ``append``)."""

    async def move(self, source: str, dest: str) -> None:
        """Atomically move; an existing destination is replaced."""

    async def delete(self, path: str) -> None:
        """Remove a file or a whole subtree; PathNotFound when absent."""

    async def list(self, path: str) -> list[str]:
        """Direct children of a directory as full paths; PathNotFound when absent."""

    def local_file(self, path: str) -> Path | None:
        """The file on local disk, when the backend has one (lets the server use sendfile)."""
