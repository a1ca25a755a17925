"""Blob storage: a small driver interface, its backends, and the on-disk layout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.config import Settings
from dockyard.storage.driver import (
    FileInfo,
    FileWriter,
    PathNotFound,
    StorageDriver,
    StorageError,
    StorageFull,
    StorageUnavailable,
)

__all__ = [
    "FileInfo",
    "FileWriter",
    "PathNotFound",
    "StorageDriver",
    "StorageError",
    "StorageFull",
    "StorageUnavailable",
    "create_driver",
    "driver_for",
]


def _filesystem(**options: Any) -> StorageDriver:
    from dockyard.storage.filesystem import FilesystemDriver

    return FilesystemDriver(**options)


def _s3(**options: Any) -> StorageDriver:
    from dockyard.storage.s3 import S3Driver, S3Options  # boto3 loads only when S3 is chosen

    return S3Driver(S3Options(**options))


BACKENDS: dict[str, Callable[..., StorageDriver]] = {"filesystem": _filesystem, "s3": _s3}


def create_driver(kind: str, **options: Any) -> StorageDriver:
    """Build the backend named in the configuration; an unknown name fails at start-up."""
    try:
        backend = BACKENDS[kind]
    except KeyError:
        raise StorageError(f"unknown storage backend {kind!r}; choose one of {sorted(BACKENDS)}") from None
    return backend(**options)


def driver_for(settings: Settings) -> StorageDriver:
    """The backend DOCKYARD_STORAGE names, with its settings."""
    if settings.storage == "s3":
        scratch = settings.data_dir / "scratch"  # segments being filled wait here, one file per upload
        scratch.mkdir(parents=True, exist_ok=True)
        return create_driver(
            "s3",
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url or None,
            region=settings.s3_region or None,
            access_key_id=settings.s3_access_key_id or None,
            secret_access_key=settings.s3_secret_access_key or None,
            part_size=settings.s3_part_size,
            redirect=settings.s3_redirect,
            redirect_seconds=settings.s3_redirect_seconds,
            scratch_dir=scratch,
        )
    return create_driver("filesystem", root=settings.storage_root)
