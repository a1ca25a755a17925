"""Blob uploads: sessions in storage, streamed bodies, digest verification.

Bytes are hashed and written as they arrive, in a pipeline: while one batch is
hashed (on one thread) and written (on another), the event loop receives the
next. Nothing is ever held whole in memory. A session is a folder in storage,
so it survives a restart; the running hash is kept in memory as a shortcut and
recomputed from the stored bytes when it is missing (restart, another replica).

Memory stays bounded whatever ids clients send: an id is checked (a canonical
UUID whose session exists in storage) before anything is kept for it; per-session
locks live only while a request holds them; cached hashes are capped.

A session belongs to one incarnation of its repository (id and creation time,
recorded in ``info.json`` at start). Deleting the repository ends its sessions;
one that survives (a crash, a race) can never complete into the repository's
next incarnation: it answers BLOB_UPLOAD_UNKNOWN, as an ended session does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from dockyard.digests import Digest
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.ledger import BlobLedger
from dockyard.registry.quotas import Quotas
from dockyard.registry.records import RepositoryIdentity, UploadStatus
from dockyard.registry.space import DiskRoom
from dockyard.registry.store import MetadataStore
from dockyard.storage import FileWriter, PathNotFound, StorageDriver, paths

BATCH_BYTES = 1024 * 1024
HASH_ALGORITHM = "sha256"
# Running hashes kept in memory; past this the least recently used is dropped (and
# recomputed from storage if its session goes on).
MAX_HASH_STATES = 1024


@dataclass
class _HashState:
    offset: int
    hasher: hashlib._Hash


@dataclass(frozen=True, slots=True)
class _Session:
    """What ``info.json`` says about a session."""

    id: str
    repository: str
    identity: RepositoryIdentity | None  # None for sessions from before identities were recorded

    @classmethod
    def from_info(cls, upload_id: str, info: Any) -> _Session | None:
        if not isinstance(info, dict) or not isinstance(info.get("repository"), str):
            return None
        repo_id, created = info.get("repository_id"), info.get("repository_created")
        if isinstance(repo_id, int) and isinstance(created, str):
            return cls(upload_id, info["repository"], RepositoryIdentity(repo_id, created))
        return cls(upload_id, info["repository"], None)


def _update(hasher: hashlib._Hash, batch: list[bytes]) -> None:
    for chunk in batch:
        hasher.update(chunk)


def _canonical_id(upload_id: str) -> bool:
    """Only the ids we hand out: a UUID in its canonical spelling (bounded length, one spelling)."""
    try:
        return str(uuid.UUID(upload_id)) == upload_id
    except ValueError:
        return False


class UploadService:
    def __init__(self, storage: StorageDriver, store: MetadataStore, room: DiskRoom | None = None) -> None:
        self.storage = storage
        self.store = store
        self.room = room or DiskRoom()
        self.ledger = BlobLedger(store)
        self.quotas = Quotas(store)
        self._hashes: OrderedDict[str, _HashState] = OrderedDict()
        # A lock lives while a request holds (or waits for) it, never longer.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def start(self, repository: str) -> UploadStatus:
        """A new session in the repository (created if absent, by its namespace's default)."""
        await self.room.check_writable()
        identity = await self.store.ensure_repository(repository)
        upload_id = str(uuid.uuid4())
        info = {
            "repository": repository,
            "repository_id": identity.id,
            "repository_created": identity.created,
            "started_at": time.time(),
        }
        try:
            await self.storage.put_content(paths.upload_info(upload_id), json.dumps(info).encode())
            writer = await self.storage.writer(paths.upload_data(upload_id))
            await writer.close()
        except BaseException:  # a full disk, for one: leave no half-made session behind
            await self._discard(upload_id)
            raise
        self._remember(upload_id, _HashState(0, hashlib.new(HASH_ALGORITHM)))
        return UploadStatus(upload_id, repository, 0)

    async def status(self, repository: str, upload_id: str) -> UploadStatus:
        await self._session(repository, upload_id)
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
        await self._session(repository, upload_id)
        await self.room.check_writable()
        async with self._lock(upload_id):
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
        session = await self._session(repository, upload_id)
        await self.room.check_writable()
        async with self._lock(upload_id):
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
            try:  # claim the row first: a collector's delete of this digest must not follow our move
                await self.quotas.check_blob(repository, str(digest), size)
                await self.ledger.claim(str(digest), size)
                await self._publish(upload_id, digest)
                linked = await self.ledger.link_claimed(repository, str(digest), size, session.identity)
            finally:  # linked or not, the session is over (its bytes are in the blob store now)
                await self._discard(upload_id)
            if not linked:  # its repository was deleted meanwhile
                raise self._unknown(upload_id)
            return size

    async def _publish(self, upload_id: str, digest: Digest) -> None:
        """The verified bytes become the blob; content the store has already (a second push of
        it) is not moved again: on an object store a move copies every byte."""
        blob = paths.blob_data(digest)
        try:
            await self.storage.stat(blob)
        except PathNotFound:
            await self.storage.move(paths.upload_data(upload_id), blob)

    async def cancel(self, repository: str, upload_id: str) -> None:
        await self._session(repository, upload_id)
        async with self._lock(upload_id):
            await self._discard(upload_id)

    async def end_repository(self, repository: str) -> int:
        """End every session into a repository that was deleted; returns how many.

        Reads each session's ``info.json``: deleting a repository is rare, sessions are few
        (the janitor removes abandoned ones)."""
        ended = 0
        for upload_id in await self._session_ids():
            session = await self._read_session(upload_id)
            if session is not None and session.repository == repository:
                await self._discard(upload_id)
                ended += 1
        return ended

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
        cutoff = time.time() - max_age_seconds
        purged = 0
        for upload_id in await self._session_ids():
            try:
                touched = (await self.storage.stat(paths.upload_data(upload_id))).modified
            except PathNotFound:
                try:
                    touched = (await self.storage.stat(paths.upload_dir(upload_id))).modified
                except PathNotFound:
                    continue
            lock = self._locks.get(upload_id)
            busy = lock is not None and lock.locked()
            if touched < cutoff and not busy:
                await self._discard(upload_id)
                purged += 1
        return purged

    # -- internals --------------------------------------------------------------------

    def _lock(self, upload_id: str) -> asyncio.Lock:
        """The session's lock; call it only once the session is known to exist."""
        lock = self._locks.get(upload_id)
        if lock is None:
            lock = self._locks[upload_id] = asyncio.Lock()
        return lock

    def _remember(self, upload_id: str, state: _HashState) -> None:
        self._hashes[upload_id] = state
        self._hashes.move_to_end(upload_id)
        while len(self._hashes) > MAX_HASH_STATES:
            self._hashes.popitem(last=False)

    @staticmethod
    def _unknown(upload_id: str) -> RegistryError:
        # Never echo an id of unbounded length back; a canonical UUID is 36 characters.
        return RegistryError(ErrorCode.BLOB_UPLOAD_UNKNOWN, {"uuid": upload_id[:36]})

    async def _session_ids(self) -> list[str]:
        try:
            sessions = await self.storage.list(paths.UPLOADS_ROOT)
        except PathNotFound:
            return []
        return [session.rsplit("/", 1)[-1] for session in sessions]

    async def _read_session(self, upload_id: str) -> _Session | None:
        if not _canonical_id(upload_id):
            return None
        try:
            info = json.loads(await self.storage.get_content(paths.upload_info(upload_id)))
        except (ValueError, PathNotFound):
            return None
        return _Session.from_info(upload_id, info)

    async def _session(self, repository: str, upload_id: str) -> _Session:
        """The session, if it exists, belongs to ``repository`` and its repository still stands."""
        session = await self._read_session(upload_id)
        if session is None or session.repository != repository:
            raise self._unknown(upload_id)
        if (
            session.identity is not None
            and await self.store.repository_identity(repository) != session.identity
        ):
            await self._discard(upload_id)  # the repository it was started in is gone
            raise self._unknown(upload_id)
        return session

    async def _open(self, upload_id: str) -> FileWriter:
        try:
            return await self.storage.writer(paths.upload_data(upload_id), append=True)
        except PathNotFound:
            raise self._unknown(upload_id) from None

    async def _discard(self, upload_id: str) -> None:
        self._hashes.pop(upload_id, None)
        with contextlib.suppress(PathNotFound):
            await self.storage.delete(paths.upload_dir(upload_id))

    async def _hash_state(self, upload_id: str, offset: int) -> _HashState:
        state = self._hashes.get(upload_id)
        if state is None or state.offset != offset:
            state = _HashState(offset, await self._rehash(upload_id, HASH_ALGORITHM, offset))
            self._remember(upload_id, state)
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
        self._remember(upload_id, _HashState(start + received, state.hasher))


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
