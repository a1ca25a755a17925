"""The S3 client and what every call shares: options, limits, and the table that turns S3's
errors into the storage errors of ``driver.py`` (``mapped``)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.exceptions
from botocore.config import Config

from dockyard.storage.driver import PathNotFound, StorageError, StorageFull, StorageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MiB = 1024 * 1024
MIN_PART = 5 * MiB  # S3's smallest part (all but the last)
MAX_PARTS = 10_000  # S3's most parts in one upload
MAX_COPY = 5 * 1024 * MiB  # CopyObject's limit; larger whole objects are copied in parts
READ_CHUNK = MiB
DELETE_BATCH = 1000  # DeleteObjects' limit
SEGMENTS = ".parts/"

# S3 error codes (and bare HTTP statuses, as HEAD answers carry no body) by what they mean to us.
NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchUpload"})
UNAVAILABLE = frozenset(
    {"500", "502", "503", "504", "InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout",
     "Throttling", "ThrottlingException", "RequestLimitExceeded"}
)  # fmt: skip
FULL = frozenset({"QuotaExceeded", "StorageQuotaExceeded"})
INVALID_RANGE = frozenset({"416", "InvalidRange"})


@dataclass(frozen=True, slots=True)
class S3Options:
    """Where the bucket is and how to reach it; unset values come from boto3's own chain (AWS_*)."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    part_size: int = 8 * MiB
    redirect: bool = False
    redirect_seconds: int = 1200
    scratch_dir: Path | None = None
    page_size: int = 1000  # keys per listing request (S3's most)


@dataclass(frozen=True, slots=True)
class Segment:
    key: str
    number: int
    size: int
    modified: float


def error_code(exc: botocore.exceptions.ClientError) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def mapped(exc: Exception, path: str) -> StorageError:
    """A vendor error as one of ours (the table for every call)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        code = error_code(exc)
        if code in NOT_FOUND:
            return PathNotFound(path)
        if code in UNAVAILABLE:
            return StorageUnavailable(f"object store unavailable for {path}: {code}")
        if code in FULL:
            return StorageFull(path)
        return StorageError(f"object store refused {path}: {code}")
    if isinstance(exc, botocore.exceptions.ConnectionError | botocore.exceptions.HTTPClientError):
        return StorageUnavailable(f"object store unreachable for {path}: {exc}")
    return StorageError(f"object store failed for {path}: {exc}")


@contextlib.contextmanager
def translated(path: str) -> Iterator[None]:
    try:
        yield
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise mapped(exc, path) from exc


def _add_content_md5(params: dict[str, Any], **_: Any) -> None:
    """DeleteObjects requires Content-MD5 on stores that predate S3's newer checksums (Swift)."""
    body = params.get("body") or b""
    if isinstance(body, str):
        body = body.encode()
    params["headers"]["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()


def make_client(options: S3Options) -> S3Client:
    session = boto3.session.Session(
        aws_access_key_id=options.access_key_id,
        aws_secret_access_key=options.secret_access_key,
        region_name=options.region,
    )
    config = Config(
        # An endpoint of our own (an IP address, a local store) is addressed by path.
        s3={"addressing_style": "path" if options.endpoint_url else "auto"},
        signature_version="s3v4",
        retries={"max_attempts": 4, "mode": "standard"},
        max_pool_connections=32,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    client = session.client("s3", endpoint_url=options.endpoint_url, config=config)
    client.meta.events.register("before-call.s3.DeleteObjects", _add_content_md5)
    return client
