"""Appending to a segmented file on S3 (see ``driver.py`` for the layout): the segment being
filled waits in a temporary file, goes to the store each time it reaches part_size, and once more
when the writer closes; the next writer reads back a segment too small to be a part and extends it."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import IO, Protocol

import anyio.to_thread

from dockyard.storage.driver import StorageError
from dockyard.storage.s3.client import MAX_PARTS, MIN_PART, S3Options, Segment


class SegmentStore(Protocol):
    """What a writer asks of the driver."""

    options: S3Options

    def segment_key(self, key: str, number: int) -> str: ...

    def read(self, path: str, key: str, offset: int, length: int | None) -> AsyncIterator[bytes]: ...

    async def put(self, path: str, key: str, body: IO[bytes]) -> None: ...

    async def delete_under(self, path: str, key: str, *, missing_ok: bool) -> None: ...


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

    def __init__(self, driver: SegmentStore, path: str, key: str, segments: list[Segment]) -> None:
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
            segment = self._driver.segment_key(self._key, self._number)
            async for chunk in self._driver.read(self._path, segment, 0, None):
                await anyio.to_thread.run_sync(buffer.write, chunk)
            self._buffered, self._stored = self._stored, 0

    async def _flush(self) -> None:
        if self._number > MAX_PARTS:
            raise StorageError(f"{self._path} is larger than {MAX_PARTS} parts of DOCKYARD_S3_PART_SIZE")
        buffer = self._buffer
        assert buffer is not None
        await anyio.to_thread.run_sync(buffer.seek, 0)
        await self._driver.put(self._path, self._driver.segment_key(self._key, self._number), buffer)
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
        await self._driver.delete_under(self._path, self._key, missing_ok=True)

    async def _drop_buffer(self) -> None:
        if self._buffer is not None:
            await anyio.to_thread.run_sync(self._buffer.close)
            self._buffer = None
