"""Blob storage: a small driver interface, its backends, and the on-disk layout."""

from __future__ import annotations

from dockyard.storage.driver import (
    FileInfo,
    FileWriter,
    PathNotFound,
    StorageDriver,
    StorageError,
    StorageFull,
)

__all__ = [
    "FileInfo",
    "FileWriter",
    "PathNotFound",
    "StorageDriver",
    "StorageError",
    "StorageFull",
    "create_driver",
]


def create_driver(kind: str, **options: object) -> StorageDriver:
    """Build the backend named in the configuration; an unknown name fails at start-up."""
    from dockyard.storage.filesystem import FilesystemDriver

    backends = {"filesystem": FilesystemDriver}
    try:
        backend = backends[kind]
    except KeyError:
        raise StorageError(f"unknown storage backend {kind!r}; choose one of {sorted(backends)}") from None
    return backend(**options)  # type: ignore[arg-type]
