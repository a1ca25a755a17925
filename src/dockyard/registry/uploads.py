"""Blob uploads: sessions in storage, streamed bodies, digest verification.

Bytes are hashed and written as they arrive, in a pipeline: while one batch is
hashed (on one thread) and written (on another), the event loop receives the
next. Nothing is ever held whole in memory. A session is a folder in storage,
so it survives a restart; the running hash is kept in memory as a shortcut and
recomputed from the stored bytes when it is missing (restart, another replica).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass

import anyio.to_thread

from dockyard.digests import Digest
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.records import UploadStatus
from dockyard.registry.store import MetadataStore
from dockyard.storage import FileWriter, PathNotFound, StorageDriver, paths

BATCH_BYTES = 1024 * 1024
HASH_ALGORITHM = "sha256"


@dataclass
class _HashState:
    offset: int
    hasher: hashlib._Hash


def _update(hasher: hashlib._Hash, batch: list[bytes]) -> None:
    for chunk in batch:
        hasher.update(chunk)


class UploadService:
    def __init__(self, storage: StorageDriver, store: MetadataStore) -> None:
        self.storage = storage
        self.store = store
        self._hashes: dict[str, _HashState] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def start(self, repository: str) -> UploadStatus:
        upload_id = str(uuid.uuid4())
        info = {"repository": repository, "started_at": time.time()}
        await self.storage.put_content(paths.upload_info(upload_id), json.dumps(info).encode())
        writer = await self.storage.writer(paths.upload_data(upload_id))
        await writer.close()
        self._hashes[upload_id] = _HashState(0, hashlib.new(HASH_ALGORITHM))
        return UploadStatus(upload_id, repository, 0)

    async def status(self, repository: str, upload_id: str) -> UploadStatus:
        await self._check_owner(repository, upload_id)
        try:
            info = await self.storage.stat(paths.upload_data(upload_id))
        except PathNotFound:
            raise self._unknown(upload_id) from None
        return UploadStatus(upload_id, repository, info.size)

    async def append(
        self,
        repository: str,
        upload_id: str,
        body: AsyncIterator[bytes],
        *,
        start: int | None = None,
        length: int | None = None,
    ) -> UploadStatus:
        """Append a chunk; ``start`` (from Content-Range) must be where the session ends."""
        async with self._lock(upload_id):
            await self._check_owner(repository, upload_id)
            writer = await self._open(upload_id)
            try:
                _check_start(upload_id, writer.size, start)
                await self._receive(upload_id, writer, body, length)
            finally:
                await writer.close()
            return UploadStatus(upload_id, repository, writer.size)

    async def complete(
        self,
        repository: str,
        upload_id: str,
        digest: Digest,
        body: AsyncIterator[bytes] | None,
        *,
        start: int | None = None,
        length: int | None = None,
    ) -> int:
        """Take the last bytes, verify the digest, publish the blob; returns its size."""
        async with self._lock(upload_id):
            await self._check_owner(repository, upload_id)
            writer = await self._open(upload_id)
            try:
                _check_start(upload_id, writer.size, start)
                if body is not None:
                    await self._receive(upload_id, writer, body, length)
                await writer.commit()
            except BaseException:
                await writer.close()
                raise
            size = writer.size
            actual = await self._digest(upload_id, size, digest.algorithm)
            if actual != digest.hex:
                await self._discard(upload_id)
                raise RegistryError(
                    ErrorCode.DIGEST_INVALID,
                    {"expected": str(digest), "computed": f"{digest.algorithm}:{actual}"},
                )
            await self.storage.move(paths.upload_data(upload_id), paths.blob_data(digest))
            await self.store.link_blob(repository, str(digest), size)
            await self._discard(upload_id)
            return size

    async def cancel(self, repository: str, upload_id: str) -> None:
        async with self._lock(upload_id):
            await self._check_owner(repository, upload_id)
            await self._discard(upload_id)

    async def upload_whole(
        self, repository: str, digest: Digest, body: AsyncIterator[bytes], length: int | None
    ) -> int:
        """A monolithic upload: a session that lives only for this request."""
        status = await self.start(repository)
        try:
            return await self.complete(repository, status.id, digest, body, length=length)
        except BaseException:
            await self._discard(status.id)
            raise

    async def purge_stale(self, max_age_seconds: float) -> int:
        """Remove sessions untouched for ``max_age_seconds`` (abandoned pushes)."""
        try:
            sessions = await self.storage.list(paths.UPLOADS_ROOT)
        except PathNotFound:
            return 0
        cutoff = time.time() - max_age_seconds
        purged = 0
        for session in sessions:
            upload_id = session.rsplit("/", 1)[-1]
            try:
                touched = (await self.storage.stat(paths.upload_data(upload_id))).modified
            except PathNotFound:
                touched = (await self.storage.stat(session)).modified
            busy = upload_id in self._locks and self._locks[upload_id].locked()
            if touched < cutoff and not busy:
                await self._discard(upload_id)
                purged += 1
        return purged

    # -- internals --------------------------------------------------------------------

    def _lock(self, upload_id: str) -> asyncio.Lock:
        return self._locks.setdefault(upload_id, asyncio.Lock())

    @staticmethod
    def _unknown(upload_id: str) -> RegistryError:
        return RegistryError(ErrorCode.BLOB_UPLOAD_UNKNOWN, {"uuid": upload_id})

    async def _check_owner(self, repository: str, upload_id: str) -> None:
        try:
            uuid.UUID(upload_id)
            info = json.loads(await self.storage.get_content(paths.upload_info(upload_id)))
        except (ValueError, PathNotFound):
            raise self._unknown(upload_id) from None
        if info.get("repository") != repository:
            raise self._unknown(upload_id)

    async def _open(self, upload_id: str) -> FileWriter:
        try:
            return await self.storage.writer(paths.upload_data(upload_id), append=True)
        except PathNotFound:
            raise self._unknown(upload_id) from None

    async def _discard(self, upload_id: str) -> None:
        self._hashes.pop(upload_id, None)
        self._locks.pop(upload_id, None)
        with contextlib.suppress(PathNotFound):
            await self.storage.delete(paths.upload_dir(upload_id))

    async def _hash_state(self, upload_id: str, offset: int) -> _HashState:
        state = self._hashes.get(upload_id)
        if state is None or state.offset != offset:
            state = _HashState(offset, await self._rehash(upload_id, HASH_ALGORITHM, offset))
            self._hashes[upload_id] = state
        return state

    async def _rehash(self, upload_id: str, algorithm: str, size: int) -> hashlib._Hash:
        hasher = hashlib.new(algorithm)
        async for chunk in self.storage.reader(paths.upload_data(upload_id), 0, size):
            await anyio.to_thread.run_sync(hasher.update, chunk)
        return hasher

    async def _digest(self, upload_id: str, size: int, algorithm: str) -> str:
        if algorithm == HASH_ALGORITHM:
            return (await self._hash_state(upload_id, size)).hasher.hexdigest()
        return (await self._rehash(upload_id, algorithm, size)).hexdigest()

    async def _receive(
        self, upload_id: str, writer: FileWriter, body: AsyncIterator[bytes], length: int | None
    ) -> None:
        start = writer.size
        state = await self._hash_state(upload_id, start)
        # If anything fails midway, the session's hash no longer matches its bytes.
        self._hashes.pop(upload_id, None)
        received = await _pump(body, writer, state.hasher)
        if length is not None and received != length:
            raise RegistryError(ErrorCode.SIZE_INVALID, {"content_length": length, "received": received})
        self._hashes[upload_id] = _HashState(start + received, state.hasher)


async def _pump(body: AsyncIterator[bytes], writer: FileWriter, hasher: hashlib._Hash) -> int:
    """Hash and write the body in batches, overlapping with receiving the next batch."""
    received = 0
    batch: list[bytes] = []
    batch_bytes = 0
    pending: Awaitable[object] | None = None
    try:
        async for chunk in body:
            if not chunk:
                continue
            batch.append(chunk)
            batch_bytes += len(chunk)
            if batch_bytes >= BATCH_BYTES:
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(_consume(batch, writer, hasher))
                received += batch_bytes
                batch, batch_bytes = [], 0
    finally:
        if pending is not None:
            await pending
    if batch:
        await _consume(batch, writer, hasher)
        received += batch_bytes
    return received


async def _consume(batch: list[bytes], writer: FileWriter, hasher: hashlib._Hash) -> None:
    await asyncio.gather(anyio.to_thread.run_sync(_update, hasher, batch), writer.write(batch))


def _check_start(upload_id: str, offset: int, start: int | None) -> None:
    """A chunk (from Content-Range) must begin where the session ends."""
    if start is not None and start != offset:
        raise RegistryError(
            ErrorCode.RANGE_INVALID,
            {"expected_start": offset, "got": start},
            message=f"chunk out of order: upload is at byte {offset}",
            headers=_range_headers(upload_id, offset),
        )


def _range_headers(upload_id: str, offset: int) -> dict[str, str]:
    return {"Range": f"0-{max(offset - 1, 0)}", "Docker-Upload-UUID": upload_id}
