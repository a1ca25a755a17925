"""A full disk: recognising it, the reserve file, and the registry's rules for writes and deletes."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.space import DiskRoom
from dockyard.storage import StorageFull, create_driver
from dockyard.storage.space import Reserve, is_disk_full

pytestmark = pytest.mark.anyio


def sqlite_full() -> OperationalError:
    """What SQLAlchemy raises when SQLite answers SQLITE_FULL."""
    try:
        raise sqlite3.OperationalError("database or disk is full")
    except sqlite3.OperationalError as exc:
        exc.sqlite_errorcode = 13  # set by the sqlite3 module on a real failure
        return OperationalError("COMMIT", {}, exc)


class PostgresDiskFull(Exception):
    sqlstate = "53100"


def test_a_full_disk_is_recognised_however_it_is_wrapped() -> None:
    wrapped = RuntimeError("write failed")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    for exc in (
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        StorageFull("uploads/x/data"),
        sqlite_full(),
        PostgresDiskFull(),
        wrapped,
    ):
        assert is_disk_full(exc), exc


def test_other_failures_are_not_a_full_disk() -> None:
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode = 5
    for exc in (OSError(errno.EIO, "I/O error"), OperationalError("COMMIT", {}, locked), ValueError("x")):
        assert not is_disk_full(exc), exc


def test_the_reserve_takes_real_blocks_and_gives_them_back(tmp_path: Path) -> None:
    reserve = Reserve(tmp_path / "reserve", 1024 * 1024)
    assert not reserve.present()
    assert reserve.ensure()
    stat = (tmp_path / "reserve").stat()
    assert stat.st_size == 1024 * 1024 and stat.st_blocks * 512 >= 1024 * 1024  # not sparse
    assert oct(stat.st_mode & 0o777) == oct(0o600)
    assert reserve.release() and not reserve.present()
    assert not reserve.release()
    assert os.listdir(tmp_path) == []


def test_a_zero_reserve_is_always_there_and_never_released(tmp_path: Path) -> None:
    reserve = Reserve(tmp_path / "reserve", 0)
    assert reserve.present() and reserve.ensure() and not reserve.release()
    assert os.listdir(tmp_path) == []


class FullDisk(Reserve):
    """A reserve on a disk with no room to make it again."""

    def ensure(self) -> bool:
        return self.present()


async def test_writes_wait_for_the_reserve(tmp_path: Path) -> None:
    reserve = FullDisk(tmp_path / "reserve", 4096)
    with pytest.raises(StorageFull):
        await DiskRoom(reserve).check_writable()
    Reserve(tmp_path / "reserve", 4096).ensure()
    await DiskRoom(reserve).check_writable()


async def test_a_delete_on_a_full_disk_releases_the_reserve_and_runs_again(tmp_path: Path) -> None:
    reserve = Reserve(tmp_path / "reserve", 4096)
    reserve.ensure()
    calls = []

    async def delete() -> str:
        calls.append(reserve.present())
        if reserve.present():
            raise sqlite_full()
        return "deleted"

    assert await DiskRoom(reserve).deleting(delete) == "deleted"
    assert calls == [True, False]


async def test_a_delete_that_still_finds_no_room_is_503(tmp_path: Path) -> None:
    reserve = Reserve(tmp_path / "reserve", 4096)
    reserve.ensure()

    async def delete() -> None:
        raise sqlite_full()

    with pytest.raises(RegistryError) as info:
        await DiskRoom(reserve).deleting(delete)
    assert info.value.code is ErrorCode.UNAVAILABLE and info.value.status == 503
    with pytest.raises(RegistryError):  # the reserve is already used: no second try
        await DiskRoom(reserve).deleting(delete)


async def test_other_delete_failures_pass_unchanged(tmp_path: Path) -> None:
    reserve = Reserve(tmp_path / "reserve", 4096)
    reserve.ensure()

    async def delete() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        await DiskRoom(reserve).deleting(delete)
    assert reserve.present()


# -- the filesystem driver on a really full disk (needs root to mount a tmpfs) ------------------------


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mountpoint)]
    if subprocess.run(command, capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        (mountpoint / "storage").mkdir()
        with (mountpoint / "filler").open("wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


async def test_the_filesystem_driver_says_storage_full_and_leaves_nothing_half_made(full_disk: Path) -> None:
    driver = create_driver("filesystem", root=full_disk / "storage")
    with pytest.raises(StorageFull):
        await driver.put_content("uploads/a/info.json", b"x" * 8192)
    with pytest.raises(StorageFull):
        writer = await driver.writer("uploads/b/data")
        try:
            await writer.write([b"x" * 65536])
        finally:
            await writer.cancel()
    # put_content took back the folders it made; a cancelled writer leaves its folder to the
    # caller (an upload session discards its whole folder).
    assert os.listdir(full_disk / "storage" / "uploads") == ["b"]
    assert os.listdir(full_disk / "storage" / "uploads" / "b") == []
