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

import builtins
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
import botocore.exceptions
from boto3.s3.transfer import TransferConfig

from dockyard.storage.driver import FileInfo, PathNotFound, StorageError
from dockyard.storage.s3.client import (
    DELETE_BATCH,
    INVALID_RANGE,
    MAX_COPY,
    MIN_PART,
    NOT_FOUND,
    READ_CHUNK,
    SEGMENTS,
    MiB,
    S3Options,
    Segment,
    error_code,
    make_client,
    translated,
)
from dockyard.storage.s3.writer import S3Writer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ListObjectsV2OutputTypeDef

T = TypeVar("T")


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
        with translated(f"bucket {self.bucket}"):
            try:
                self.client.head_bucket(Bucket=self.bucket)
                return
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
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
                if error_code(exc) != "BucketAlreadyOwnedByYou":  # another replica made it first
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
            with translated(path):
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

    async def _segments(self, path: str, key: str) -> builtins.list[Segment]:
        """The segments of a file being appended (at most MAX_PARTS), in order."""
        found = []
        async for page in self._pages(path, key + SEGMENTS):
            for obj in page.get("Contents", []):
                number = obj["Key"].rsplit("/", 1)[-1]
                if number.isdigit():
                    modified = obj["LastModified"].timestamp()
                    found.append(Segment(obj["Key"], int(number), obj["Size"], modified))
        return sorted(found, key=lambda segment: segment.number)

    def segment_key(self, key: str, number: int) -> str:
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
            with translated(path):
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
            async for chunk in self.read(path, key, offset, length):
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
                async for chunk in self.read(path, segment.key, first, count):
                    yield chunk
            start = stop

    async def read(self, path: str, key: str, offset: int, length: int | None) -> AsyncIterator[bytes]:
        if length == 0:
            return
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if offset or length is not None:
            kwargs["Range"] = f"bytes={offset}-{'' if length is None else offset + length - 1}"

        def open_body() -> Any:
            with translated(path):
                try:
                    return self.client.get_object(**kwargs)["Body"]
                except botocore.exceptions.ClientError as exc:
                    if error_code(exc) in INVALID_RANGE:
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
            await self.delete_under(path, key, missing_ok=True)
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

    async def _assemble(self, path: str, key: str, segments: list[Segment]) -> None:
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
        await self.delete_under(path, self._key(path), missing_ok=False)

    async def delete_under(self, path: str, key: str, *, missing_ok: bool) -> None:
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

    async def put(self, path: str, key: str, body: IO[bytes]) -> None:
        """One object from a file (a segment): botocore streams it."""
        await self._call(path, self.client.put_object, Bucket=self.bucket, Key=key, Body=body)

    def local_file(self, path: str) -> Path | None:
        return None

    async def redirect_url(self, path: str) -> str | None:
        if not self.options.redirect:
            return None
        params = {"Bucket": self.bucket, "Key": self._key(path)}
        with translated(path):  # signing is local: no request is made
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
