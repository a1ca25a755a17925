"""The storage driver contract, run against every backend (see conftest.BACKENDS)."""

from __future__ import annotations

import os

import pytest

from dockyard.storage import PathNotFound, StorageDriver, StorageError, create_driver

pytestmark = pytest.mark.anyio


async def read_all(driver: StorageDriver, path: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in driver.reader(path, offset, length)])


async def test_put_then_get_content(driver: StorageDriver) -> None:
    await driver.put_content("t/a/file", b"hello")
    assert await driver.get_content("t/a/file") == b"hello"
    await driver.put_content("t/a/file", b"replaced")
    assert await driver.get_content("t/a/file") == b"replaced"
    await driver.delete("t")


async def test_missing_paths_raise_path_not_found(driver: StorageDriver) -> None:
    with pytest.raises(PathNotFound):
        await driver.get_content("t/missing")
    with pytest.raises(PathNotFound):
        await driver.stat("t/missing")
    with pytest.raises(PathNotFound):
        await read_all(driver, "t/missing")
    with pytest.raises(PathNotFound):
        await driver.delete("t/missing")
    with pytest.raises(PathNotFound):
        await driver.list("t/missing")
    with pytest.raises(PathNotFound):
        await driver.move("t/missing", "t/other")
    with pytest.raises(PathNotFound):
        await driver.writer("t/missing", append=True)


async def test_stat_reports_size(driver: StorageDriver) -> None:
    await driver.put_content("t/s", b"x" * 1234)
    info = await driver.stat("t/s")
    assert info.size == 1234
    assert info.modified > 0
    await driver.delete("t")


async def test_writer_appends_across_sessions(driver: StorageDriver) -> None:
    writer = await driver.writer("t/up")
    await writer.write([b"abc", b"def"])
    assert writer.size == 6
    await writer.close()
    writer = await driver.writer("t/up", append=True)
    assert writer.size == 6
    await writer.write([b"ghi"])
    await writer.commit()
    assert await read_all(driver, "t/up") == b"abcdefghi"
    await driver.delete("t")


async def test_writer_cancel_removes_the_file(driver: StorageDriver) -> None:
    writer = await driver.writer("t/gone")
    await writer.write([b"partial"])
    await writer.cancel()
    with pytest.raises(PathNotFound):
        await driver.stat("t/gone")
    await driver.delete("t")


async def test_reader_streams_large_files_in_chunks(driver: StorageDriver) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    writer = await driver.writer("t/big")
    await writer.write([data])
    await writer.commit()
    chunks = [chunk async for chunk in driver.reader("t/big")]
    assert len(chunks) > 1, "a large file must stream in several chunks"
    assert b"".join(chunks) == data
    assert await read_all(driver, "t/big", 100, 50) == data[100:150]
    assert await read_all(driver, "t/big", len(data) - 5) == data[-5:]
    await driver.delete("t")


async def test_move_is_atomic_replace(driver: StorageDriver) -> None:
    await driver.put_content("t/src", b"new")
    await driver.put_content("t/dst/data", b"old")
    await driver.move("t/src", "t/dst/data")
    assert await driver.get_content("t/dst/data") == b"new"
    with pytest.raises(PathNotFound):
        await driver.stat("t/src")
    await driver.delete("t")


async def test_list_and_recursive_delete(driver: StorageDriver) -> None:
    await driver.put_content("t/d/one", b"1")
    await driver.put_content("t/d/two/three", b"3")
    assert await driver.list("t/d") == ["t/d/one", "t/d/two"]
    await driver.delete("t/d")
    with pytest.raises(PathNotFound):
        await driver.list("t/d")
    await driver.delete("t")


async def test_put_content_leaves_no_temporary_files(driver: StorageDriver) -> None:
    for i in range(3):
        await driver.put_content("t/x/file", str(i).encode())
    assert await driver.list("t/x") == ["t/x/file"]
    await driver.delete("t")


def test_unknown_backend_fails_at_start_up() -> None:
    with pytest.raises(StorageError, match="unknown storage backend"):
        create_driver("nosuchthing")


def test_filesystem_refuses_paths_outside_its_root(tmp_path: object) -> None:
    driver = create_driver("filesystem", root=f"{tmp_path}/root")
    with pytest.raises(StorageError):
        driver.local_file("../escape")
