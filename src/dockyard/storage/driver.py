"""The storage driver interface every backend implements.

Paths are slash-separated keys relative to the driver's root (see ``paths.py``).
Drivers translate their own failures into the errors below, so the layers above
never see ``FileNotFoundError`` or a vendor's ``NoSuchKey``.

    StorageError
     ├── PathNotFound
     ├── StorageFull         no room left (ENOSPC, a quota); see space.py
     └── StorageUnavailable  the backend did not answer or asked us to slow down (a network
                             store's 5xx, SlowDown, a refused connection): worth retrying later

What an object store needs is part of the interface, so the layers above never ask which
backend they have:

- ``writer`` appends across requests and maps onto S3 multipart uploads (parts of at least
  5 MiB; the bytes of a part not yet full wait in the store, not in memory);
- ``redirect_url`` lets a client fetch a file straight from the store (a presigned URL);
- ``walk`` lists a whole tree page by page, never all of it in memory;
- ``delete_many`` removes files in batches (S3's DeleteObjects takes 1,000 at once).
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


class StorageUnavailable(StorageError):
    """The backend is unreachable or overloaded; the request may succeed later."""


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

    async def redirect_url(self, path: str) -> str | None:
        """A URL a client may GET the file from directly (expiring), or None: serve it yourself."""

    def walk(self, path: str) -> AsyncIterator[FileInfo]:
        """Every file below ``path`` (recursively, in no promised order), fetched page by page;
        nothing when ``path`` does not exist."""

    async def delete_many(self, paths: Sequence[str]) -> None:
        """Remove files (not directories) in batches; paths already gone are ignored."""
