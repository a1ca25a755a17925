"""The S3 backend, through boto3: AWS S3 and the stores that speak its API (MinIO, Ceph, Swift's s3api).

Keys are the storage paths (``paths.py``) below an optional prefix. A file being appended to
(an upload in progress) is kept as numbered segments until it is moved into place:

    <prefix><path>                  a whole file: put_content, or a file moved into place
    <prefix><path>.parts/00001      a file being appended: segments of at least 5 MiB (S3's
    <prefix><path>.parts/00002      smallest multipart part; part_size each) except the last,
    ...                             which the next append reads back and extends

Why segments rather than one multipart upload left open: an open upload's parts cannot be read
back, but an upload's bytes must be (another replica, or this one after a restart, resumes its
hash from them); and a part under 5 MiB may only end an upload. Moving a segmented file into place
is one server-side multipart copy (UploadPartCopy per segment, then CompleteMultipartUpload): the
bytes never pass through Dockyard again. While a segment fills, its bytes wait in a temporary
file (``scratch_dir``), never in memory.

boto3 is synchronous: each call runs on a worker thread, and vendor errors become the storage
errors of ``driver.py`` through one table (``_mapped``).
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import hashlib
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
import boto3
import botocore.exceptions
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from dockyard.storage.driver import FileInfo, PathNotFound, StorageError, StorageFull, StorageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ListObjectsV2OutputTypeDef

MiB = 1024 * 1024
MIN_PART = 5 * MiB  # S3's smallest part (all but the last)
MAX_PARTS = 10_000  # S3's most parts in one upload
MAX_COPY = 5 * 1024 * MiB  # CopyObject's limit; larger whole objects are copied in parts
READ_CHUNK = MiB
DELETE_BATCH = 1000  # DeleteObjects' limit
SEGMENTS = ".parts/"

T = TypeVar("T")

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
class _Segment:
    key: str
    number: int
    size: int
    modified: float


def _code(exc: botocore.exceptions.ClientError) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def _mapped(exc: Exception, path: str) -> StorageError:
    """A vendor error as one of ours (the table for every call)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        code = _code(exc)
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
def _translated(path: str) -> Iterator[None]:
    try:
        yield
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise _mapped(exc, path) from exc


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


class S3Driver:
    name = "s3"

    def __init__(self, options: S3Options, client: S3Client | None = None) -> None:
        if options.part_size < MIN_PART:
            raise StorageError(f"the S3 part size must be at least {MIN_PART} bytes")
        self.options = options
        self.bucket = options.bucket
        self.prefix = options.prefix.strip("/") + "/" if options.prefix.strip("/") else ""
        self.client = client or make_client(options)
        self._ensure_bucket()

    def _ensure_bucket(self) -> None:
        """Create the bucket when it is missing (at start-up, before any request)."""
        with _translated(f"bucket {self.bucket}"):
            try:
                self.client.head_bucket(Bucket=self.bucket)
                return
            except botocore.exceptions.ClientError as exc:
                if _code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                    raise
            region = self.client.meta.region_name
            try:
                if region and region != "us-east-1":
                    self.client.create_bucket(
                        Bucket=self.bucket,
                        CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
                    )
                else:
                    self.client.create_bucket(Bucket=self.bucket)
            except botocore.exceptions.ClientError as exc:
                if _code(exc) != "BucketAlreadyOwnedByYou":  # another replica made it first
                    raise

    # -- keys and calls --------------------------------------------------------------------

    def _key(self, path: str) -> str:
        return self.prefix + path.strip("/")

    def _dir(self, path: str) -> str:
        """The key prefix of everything below ``path``."""
        key = self._key(path)
        return key if not key or key.endswith("/") else key + "/"

    def _path(self, key: str) -> str:
        return key[len(self.prefix) :]

    async def _call(self, path: str, fn: Callable[..., T], /, **kwargs: Any) -> T:
        def call() -> T:
            with _translated(path):
                return fn(**kwargs)

        return await anyio.to_thread.run_sync(call)

    async def _pages(
        self, path: str, prefix: str, *, delimiter: str = "", first_only: bool = False
    ) -> AsyncIterator[ListObjectsV2OutputTypeDef]:
        limit = 1 if first_only else self.options.page_size
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": limit}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        while True:
            page = await self._call(path, self.client.list_objects_v2, **kwargs)
            yield page
            if first_only or not page.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    async def _head(self, path: str, key: str) -> FileInfo | None:
        try:
            head = await self._call(path, self.client.head_object, Bucket=self.bucket, Key=key)
        except PathNotFound:
            return None
        return FileInfo(path, head["ContentLength"], head["LastModified"].timestamp())

    async def _segments(self, path: str, key: str) -> builtins.list[_Segment]:
        """The segments of a file being appended (at most MAX_PARTS), in order."""
        found = []
        async for page in self._pages(path, key + SEGMENTS):
            for obj in page.get("Contents", []):
                number = obj["Key"].rsplit("/", 1)[-1]
                if number.isdigit():
                    modified = obj["LastModified"].timestamp()
                    found.append(_Segment(obj["Key"], int(number), obj["Size"], modified))
        return sorted(found, key=lambda segment: segment.number)

    def _segment_key(self, key: str, number: int) -> str:
        return f"{key}{SEGMENTS}{number:05d}"

    # -- the driver interface ------------------------------------------------------------

    async def stat(self, path: str) -> FileInfo:
        key = self._key(path)
        info = await self._head(path, key)
        if info is not None:
            return info
        segments = await self._segments(path, key)
        if segments:
            return FileInfo(path, sum(s.size for s in segments), max(s.modified for s in segments))
        async for page in self._pages(path, self._dir(path), first_only=True):
            for obj in page.get("Contents", []):
                return FileInfo(path, 0, obj["LastModified"].timestamp(), is_dir=True)
        raise PathNotFound(path)

    async def get_content(self, path: str) -> bytes:
        def get() -> bytes:
            with _translated(path):
                body = self.client.get_object(Bucket=self.bucket, Key=self._key(path))["Body"]
                try:
                    return body.read()
                finally:
                    body.close()

        return await anyio.to_thread.run_sync(get)

    async def put_content(self, path: str, data: bytes) -> None:
        await self._call(path, self.client.put_object, Bucket=self.bucket, Key=self._key(path), Body=data)

    async def reader(self, path: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        key = self._key(path)
        if await self._head(path, key) is not None:
            async for chunk in self._read(path, key, offset, length):
                yield chunk
            return
        segments = await self._segments(path, key)
        if not segments:
            raise PathNotFound(path)
        start = 0
        end = None if length is None else offset + length
        for segment in segments:
            stop = start + segment.size
            if stop > offset and (end is None or start < end) and segment.size:
                first = max(offset - start, 0)
                count = None if end is None else min(end, stop) - start - first
                async for chunk in self._read(path, segment.key, first, count):
                    yield chunk
            start = stop

    async def _read(self, path: str, key: str, offset: int, length: int | None) -> AsyncIterator[bytes]:
        if length == 0:
            return
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if offset or length is not None:
            kwargs["Range"] = f"bytes={offset}-{'' if length is None else offset + length - 1}"

        def open_body() -> Any:
            with _translated(path):
                try:
                    return self.client.get_object(**kwargs)["Body"]
                except botocore.exceptions.ClientError as exc:
                    if _code(exc) in INVALID_RANGE:
                        return None  # at or past the end: nothing to read, as from a file
                    raise

        body = await anyio.to_thread.run_sync(open_body)
        if body is None:
            return
        try:
            while True:
                chunk = await self._call(path, body.read, amt=READ_CHUNK)
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()

    async def writer(self, path: str, *, append: bool = False) -> S3Writer:
        key = self._key(path)
        if not append:
            await self._delete_under(path, key, missing_ok=True)
            return S3Writer(self, path, key, [])
        segments = await self._segments(path, key)
        if not segments:
            if await self._head(path, key) is not None:
                raise StorageError(f"{path} is a whole object; S3 files append only while being written")
            raise PathNotFound(path)
        return S3Writer(self, path, key, segments)

    async def move(self, source: str, dest: str) -> None:
        src, dst = self._key(source), self._key(dest)
        info = await self._head(source, src)
        if info is not None:
            config = TransferConfig(
                multipart_threshold=MAX_COPY, multipart_chunksize=512 * MiB, use_threads=False
            )
            source_key = {"Bucket": self.bucket, "Key": src}
            await self._call(
                dest, self.client.copy, CopySource=source_key, Bucket=self.bucket, Key=dst, Config=config
            )
            await self._delete_keys(source, [src])
            return
        segments = await self._segments(source, src)
        if not segments:
            raise PathNotFound(source)
        await self._assemble(dest, dst, segments)
        await self._delete_keys(source, [segment.key for segment in segments])

    async def _assemble(self, path: str, key: str, segments: list[_Segment]) -> None:
        """Segments into one object, copied inside the store (one multipart upload of copies)."""
        if len(segments) == 1:
            source = {"Bucket": self.bucket, "Key": segments[0].key}
            await self._call(path, self.client.copy_object, CopySource=source, Bucket=self.bucket, Key=key)
            return
        upload = await self._call(path, self.client.create_multipart_upload, Bucket=self.bucket, Key=key)
        upload_id = upload["UploadId"]
        try:
            parts = []
            for number, segment in enumerate(segments, start=1):
                copied = await self._call(
                    path,
                    self.client.upload_part_copy,
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": segment.key},
                )
                parts.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
            await self._call(
                path,
                self.client.complete_multipart_upload,
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            with contextlib.suppress(StorageError):
                await self._call(
                    path, self.client.abort_multipart_upload, Bucket=self.bucket, Key=key, UploadId=upload_id
                )
            raise

    async def delete(self, path: str) -> None:
        await self._delete_under(path, self._key(path), missing_ok=False)

    async def _delete_under(self, path: str, key: str, *, missing_ok: bool) -> None:
        """The object at ``key``, its segments and everything below it, a page at a time."""
        found = False
        below, segments = key + "/", key + SEGMENTS
        async for page in self._pages(path, key):
            keys = [
                obj["Key"]
                for obj in page.get("Contents", [])
                if obj["Key"] == key or obj["Key"].startswith((below, segments))
            ]
            found = found or bool(keys)
            await self._delete_keys(path, keys)
        if not found and not missing_ok:
            raise PathNotFound(path)

    async def list(self, path: str) -> list[str]:
        children: set[str] = set()
        async for page in self._pages(path, self._dir(path), delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"].rstrip("/")
                children.add(self._path(name.removesuffix(SEGMENTS.rstrip("/"))))
            children.update(self._path(obj["Key"]) for obj in page.get("Contents", []))
        if not children:
            raise PathNotFound(path)
        return sorted(children)

    def local_file(self, path: str) -> Path | None:
        return None

    async def redirect_url(self, path: str) -> str | None:
        if not self.options.redirect:
            return None
        params = {"Bucket": self.bucket, "Key": self._key(path)}
        with _translated(path):  # signing is local: no request is made
            return self.client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=self.options.redirect_seconds
            )

    async def walk(self, path: str) -> AsyncIterator[FileInfo]:
        pending: FileInfo | None = None  # a segmented file, summed while its segments are listed
        async for page in self._pages(path, self._dir(path)):
            for obj in page.get("Contents", []):
                key, modified = obj["Key"], obj["LastModified"].timestamp()
                base, _, number = key.rpartition(SEGMENTS)
                if base and number.isdigit():
                    name = self._path(base)
                    if pending is not None and pending.path == name:
                        pending = FileInfo(name, pending.size + obj["Size"], max(pending.modified, modified))
                        continue
                    if pending is not None:
                        yield pending
                    pending = FileInfo(name, obj["Size"], modified)
                    continue
                if pending is not None:
                    yield pending
                    pending = None
                yield FileInfo(self._path(key), obj["Size"], modified)
        if pending is not None:
            yield pending

    async def delete_many(self, paths: Sequence[str]) -> None:
        keys = [self._key(path) for path in paths]
        for start in range(0, len(keys), DELETE_BATCH):
            await self._delete_keys(paths[start], keys[start : start + DELETE_BATCH])

    async def _delete_keys(self, path: str, keys: Sequence[str]) -> None:
        if not keys:
            return
        request = {"Objects": [{"Key": key} for key in keys], "Quiet": True}
        answer = await self._call(path, self.client.delete_objects, Bucket=self.bucket, Delete=request)
        errors = [e for e in answer.get("Errors", []) if e.get("Code") not in NOT_FOUND]
        if errors:
            first = errors[0]
            what = f"{first.get('Key')}: {first.get('Code')} ({len(errors)} failed)"
            raise StorageError(f"could not delete {what}")


def _take(pieces: list[memoryview], room: int) -> tuple[list[memoryview], list[memoryview]]:
    """The first ``room`` bytes of ``pieces``, and the rest (views, no copies)."""
    taken: list[memoryview] = []
    for index, piece in enumerate(pieces):
        if len(piece) >= room:
            taken.append(piece[:room])
            rest = [piece[room:]] if len(piece) > room else []
            return taken, rest + pieces[index + 1 :]
        taken.append(piece)
        room -= len(piece)
    return taken, []


def _write_all(buffer: IO[bytes] | None, pieces: list[memoryview]) -> None:
    assert buffer is not None
    for piece in pieces:
        buffer.write(piece)


def _scratch_file(directory: Path | None) -> IO[bytes]:
    """Deleted when closed (or when the process dies): the writer owns and closes it."""
    return tempfile.TemporaryFile(dir=directory)


class S3Writer:
    """Appends to a segmented file: the segment being filled waits in a temporary file and goes
    to the store each time it reaches part_size, and once more on close."""

    def __init__(self, driver: S3Driver, path: str, key: str, segments: list[_Segment]) -> None:
        self._driver = driver
        self._path = path
        self._key = key
        self._exists = bool(segments)
        last = segments[-1] if segments else None
        if last is not None and last.size < MIN_PART:
            # The last segment is too small to be a part (except the last): it grows on.
            self._number, self._stored = last.number, last.size
            self._base = sum(s.size for s in segments[:-1])
        else:
            self._number, self._stored = (last.number + 1 if last else 1), 0
            self._base = sum(s.size for s in segments)
        self._buffer: IO[bytes] | None = None
        self._buffered = 0

    @property
    def size(self) -> int:
        return self._base + self._stored + self._buffered

    async def write(self, chunks: Sequence[bytes]) -> None:
        if self._buffer is None:
            await self._open_buffer()
        pending = [memoryview(chunk) for chunk in chunks if chunk]
        while pending:
            # Fill the segment up to part_size exactly; what is left starts the next one.
            room = self._driver.options.part_size - self._buffered
            batch, pending = _take(pending, room)
            await anyio.to_thread.run_sync(_write_all, self._buffer, batch)
            self._buffered += sum(len(piece) for piece in batch)
            if self._buffered >= self._driver.options.part_size:
                await self._next_segment()

    async def _next_segment(self) -> None:
        buffer = self._buffer
        assert buffer is not None
        await self._flush()
        self._base += self._buffered
        self._number += 1
        self._buffered = 0
        await anyio.to_thread.run_sync(buffer.truncate, 0)
        await anyio.to_thread.run_sync(buffer.seek, 0)

    async def _open_buffer(self) -> None:
        """A temporary file holding the segment being filled, starting with what the store has of it."""
        buffer = await anyio.to_thread.run_sync(_scratch_file, self._driver.options.scratch_dir)
        self._buffer = buffer
        if self._stored:
            segment = self._driver._segment_key(self._key, self._number)
            async for chunk in self._driver._read(self._path, segment, 0, None):
                await anyio.to_thread.run_sync(buffer.write, chunk)
            self._buffered, self._stored = self._stored, 0

    async def _flush(self) -> None:
        if self._number > MAX_PARTS:
            raise StorageError(f"{self._path} is larger than {MAX_PARTS} parts of DOCKYARD_S3_PART_SIZE")
        buffer = self._buffer
        assert buffer is not None
        await anyio.to_thread.run_sync(buffer.seek, 0)
        key = self._driver._segment_key(self._key, self._number)
        driver = self._driver
        await driver._call(self._path, driver.client.put_object, Bucket=driver.bucket, Key=key, Body=buffer)
        self._exists = True

    async def commit(self) -> None:
        await self.close()  # every segment written is durable in the store

    async def close(self) -> None:
        try:
            if self._buffered or (not self._exists and self._buffer is None):
                if self._buffer is None:  # a new, empty file: one empty segment says it exists
                    self._buffer = await anyio.to_thread.run_sync(
                        _scratch_file, self._driver.options.scratch_dir
                    )
                await self._flush()
        finally:
            await self._drop_buffer()

    async def cancel(self) -> None:
        await self._drop_buffer()
        await self._driver._delete_under(self._path, self._key, missing_ok=True)

    async def _drop_buffer(self) -> None:
        if self._buffer is not None:
            await anyio.to_thread.run_sync(self._buffer.close)
            self._buffer = None
