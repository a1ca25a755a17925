"""Single flight: one upstream download per (proxy namespace, blob) in this process.

The download runs as a task of its own into a spool file; every client asking for the blob
meanwhile, the first one included, follows that file as it grows. The first client gets bytes as
they arrive, and memory stays constant however many clients follow. The spool is written
unbuffered (``os.write``), so the ``written`` count is what a reader finds in the file; each
reader holds its own descriptor, opened when it joins, which stays valid when the finished spool
is moved into place.

    join ──> Flight (spool created, download task started on the first join)
    download: bytes ──> spool + hash ──> digest checked ──> fsync ──> moved to the blob's
              path in storage (atomic) ──> linked into every repository that asked ──> done
    the last reader leaving before done cancels the download; the spool is removed

Nothing partial is ever committed: only bytes whose digest matches reach the blob's path, and a
download nobody follows any more is cancelled and its spool removed. No database session is held
while bytes move: linking is one short transaction after the move.

Across processes (``--workers N``, replicas on shared storage) each process downloads on its own:
N processes asking at once fetch the blob up to N times, and the moves, of identical bytes, replace
each other atomically. A killed process leaves a spool file behind; spools untouched for an hour
are removed by the janitor (``dockyard worker --role janitor``, or ``serve``), at its start and
then every round, and when a download starts (at most once an hour).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import anyio.to_thread
import httpx

from dockyard.digests import Digest
from dockyard.registry.ledger import BlobLedger
from dockyard.storage import StorageDriver, paths

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
SPOOL = "proxy-spool"  # beside blobs/ and uploads/ in storage, when the backend has local files
# A download writes its spool as bytes come (or fails within the upstream timeout), and a finished
# one is moved or copied away; a spool untouched this long belongs to a killed process.
STALE_SPOOL_SECONDS = 3600
SWEEP_EVERY_SECONDS = 3600

Opener = Callable[[], AbstractAsyncContextManager[httpx.Response]]
Linker = Callable[["Flight"], Awaitable[None]]


class FetchFailed(Exception):
    """The download a reader followed did not complete; the reader's response ends short."""


class BlobTooLarge(FetchFailed):
    """The upstream announced or sent more bytes than the flight may take."""


class Flight:
    def __init__(self, digest: Digest, spool: Path, max_bytes: int | None = None) -> None:
        self.digest = digest
        self.spool = spool
        self.max_bytes = max_bytes  # the namespace's size limit: a blob beyond it is never cached
        self.size: int | None = None  # the upstream's Content-Length, once it answered
        self.written = 0
        self.received = False  # every byte is in the spool and matched the digest: no cancelling now
        self.done = False
        self.error: str | None = None
        self.failure: Exception | None = None  # what ended the download early, for joiners to raise
        self.readers = 0
        self.repositories: set[str] = set()
        self.started = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    def notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    @property
    def changed(self) -> asyncio.Event:
        return self._changed


class Flights:
    def __init__(self, storage: StorageDriver, fallback_spool: Path, ledger: BlobLedger) -> None:
        self.storage = storage
        self.ledger = ledger
        local = storage.local_file(SPOOL)
        self.in_storage = local is not None  # the spool moves into place; else it is copied in
        self.spool_dir = local if local is not None else fallback_spool
        self._flights: dict[tuple[str, str], Flight] = {}
        self._swept = -float(SWEEP_EVERY_SECONDS)  # time.monotonic() of the last sweep
        self._sweeping: asyncio.Task[None] | None = None

    def running(self, namespace: str, digest: Digest) -> bool:
        return (namespace, str(digest)) in self._flights

    async def join(
        self,
        namespace: str,
        digest: Digest,
        repository: str,
        opener: Opener,
        linker: Linker,
        max_bytes: int | None = None,
    ) -> tuple[Flight, int]:
        """The flight for this blob (started if none runs) and a reader's descriptor on its spool,
        once the upstream answered; FetchFailed when it answered with an error."""
        key = (namespace, str(digest))
        flight = self._flights.get(key)
        if flight is None:
            flight = self._start(key, digest, opener, linker, max_bytes)
        flight.repositories.add(repository)
        flight.readers += 1
        reader = os.open(flight.spool, os.O_RDONLY)  # in the same step as the lookup: still there
        try:
            await flight.started.wait()
            if flight.failure is not None:
                raise flight.failure
        except BaseException:
            os.close(reader)
            self.leave(flight)
            raise
        return flight, reader

    def _start(
        self, key: tuple[str, str], digest: Digest, opener: Opener, linker: Linker, max_bytes: int | None
    ) -> Flight:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        if time.monotonic() - self._swept >= SWEEP_EVERY_SECONDS:
            self._swept = time.monotonic()
            self._sweeping = asyncio.create_task(self.sweep())
        spool = self.spool_dir / f"{digest.hex[:16]}-{uuid.uuid4().hex}"
        writer = os.open(spool, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        flight = Flight(digest, spool, max_bytes)
        self._flights[key] = flight
        flight.task = asyncio.create_task(self._download(key, flight, writer, opener, linker))
        return flight

    def leave(self, flight: Flight, *, complete: bool = False) -> None:
        """A reader is gone. When it was the last and the download is not through, nobody wants
        the rest: the download is cancelled and nothing partial stays (see _download). A reader
        that got every byte (clients hang up as soon as they have Content-Length bytes) does not
        cancel the commit that follows."""
        flight.readers -= 1
        if flight.readers == 0 and not (complete or flight.received) and flight.task is not None:
            flight.task.cancel()

    async def follow(self, flight: Flight, reader: int) -> AsyncIterator[bytes]:
        """The blob's bytes as the flight writes them; FetchFailed when it stops short."""
        offset = 0
        try:
            while True:
                changed = flight.changed  # taken before the checks, so no notification is missed
                if flight.error is not None:
                    raise FetchFailed(flight.error)
                if offset < flight.written:
                    size = min(CHUNK, flight.written - offset)
                    chunk = await anyio.to_thread.run_sync(os.pread, reader, size, offset)
                    if not chunk:
                        raise FetchFailed("the spool file ended early")
                    offset += len(chunk)
                    yield chunk
                elif flight.done:
                    return
                else:
                    await changed.wait()
        finally:
            os.close(reader)
            self.leave(flight, complete=flight.size is not None and offset >= flight.size)

    async def _download(
        self, key: tuple[str, str], flight: Flight, writer: int, opener: Opener, linker: Linker
    ) -> None:
        try:
            await self._fill(flight, writer, opener)
            os.close(writer)
            writer = -1
            del self._flights[key]  # from here on a new reader finds the blob in storage
            # Claimed before the move, linked (link_claimed) after it, like an upload: a collector
            # deleting this digest finishes first, and none can take the bytes before the link.
            await self.ledger.claim(str(flight.digest), flight.written)
            await self._commit(flight)
            await linker(flight)
            flight.done = True
        except BaseException as exc:
            flight.error = str(exc) or type(exc).__name__
            flight.failure = exc if isinstance(exc, Exception) else FetchFailed(flight.error)
            if self._flights.get(key) is flight:
                del self._flights[key]
            if not isinstance(exc, asyncio.CancelledError | FetchFailed):
                log.warning("proxy download of %s failed", flight.digest, exc_info=True)
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            if writer >= 0:
                os.close(writer)
            flight.spool.unlink(missing_ok=True)
            flight.started.set()
            flight.notify()

    async def _fill(self, flight: Flight, writer: int, opener: Opener) -> None:
        async with opener() as response:
            value = response.headers.get("content-length", "")
            flight.size = int(value) if value.isdigit() else None
            cap = _cap(flight)
            if flight.size is not None and cap is not None and flight.size > cap:
                raise BlobTooLarge(f"{flight.digest} is {flight.size} bytes, over the size limit of {cap}")
            flight.started.set()
            hasher = flight.digest.hasher()
            async for chunk in response.aiter_raw(CHUNK):
                if cap is not None and flight.written + len(chunk) > cap:
                    raise BlobTooLarge(f"the upstream sent more than {cap} bytes for {flight.digest}")
                hasher.update(chunk)
                await anyio.to_thread.run_sync(_write_all, writer, chunk)
                flight.written += len(chunk)
                flight.notify()
        if hasher.hexdigest() != flight.digest.hex:
            raise FetchFailed(f"the upstream's bytes do not match {flight.digest}; nothing was cached")
        if flight.size is not None and flight.size != flight.written:
            raise FetchFailed("the upstream sent another length than it announced; nothing was cached")
        await anyio.to_thread.run_sync(os.fsync, writer)
        flight.received = True

    async def _commit(self, flight: Flight) -> None:
        target = paths.blob_data(flight.digest)
        if self.in_storage:
            await self.storage.move(f"{SPOOL}/{flight.spool.name}", target)
            return
        key = f"{SPOOL}/{flight.spool.name}"
        sink = await self.storage.writer(key)
        try:
            with flight.spool.open("rb") as source:
                while chunk := await anyio.to_thread.run_sync(source.read, CHUNK):
                    await sink.write([chunk])
            await sink.commit()
        except BaseException:
            await sink.cancel()
            raise
        await self.storage.move(key, target)

    async def sweep(self) -> None:
        """Remove spools a crashed process left behind."""
        await anyio.to_thread.run_sync(self._sweep_sync)

    def _sweep_sync(self) -> None:
        if not self.spool_dir.is_dir():
            return
        cutoff = time.time() - STALE_SPOOL_SECONDS
        for path in self.spool_dir.iterdir():
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()


def _cap(flight: Flight) -> int | None:
    """The most bytes the flight takes: what the upstream announced (no more), and the limit."""
    caps = [c for c in (flight.size, flight.max_bytes) if c is not None]
    return min(caps) if caps else None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
