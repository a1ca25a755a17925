"""The storage driver contract, run against every backend (see conftest.BACKENDS)."""

from __future__ import annotations

import contextlib
import os

import pytest

from dockyard.storage import PathNotFound, StorageDriver, StorageError, create_driver
from tests.storage.conftest import PART_SIZE, Factory

pytestmark = pytest.mark.anyio


async def clean(driver: StorageDriver) -> None:
    """Remove the test's tree; an object store has no empty directories, so it may be gone."""
    with contextlib.suppress(PathNotFound):
        await driver.delete("t")


async def read_all(driver: StorageDriver, path: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in driver.reader(path, offset, length)])


async def test_put_then_get_content(driver: StorageDriver) -> None:
    await driver.put_content("t/a/file", b"hello")
    assert await driver.get_content("t/a/file") == b"hello"
    await driver.put_content("t/a/file", b"replaced")
    assert await driver.get_content("t/a/file") == b"replaced"
    await clean(driver)


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
    await clean(driver)


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
    await clean(driver)


async def test_writer_cancel_removes_the_file(driver: StorageDriver) -> None:
    writer = await driver.writer("t/gone")
    await writer.write([b"partial"])
    await writer.cancel()
    with pytest.raises(PathNotFound):
        await driver.stat("t/gone")


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
    await clean(driver)


async def test_move_is_atomic_replace(driver: StorageDriver) -> None:
    await driver.put_content("t/src", b"new")
    await driver.put_content("t/dst/data", b"old")
    await driver.move("t/src", "t/dst/data")
    assert await driver.get_content("t/dst/data") == b"new"
    with pytest.raises(PathNotFound):
        await driver.stat("t/src")
    await clean(driver)


async def test_list_and_recursive_delete(driver: StorageDriver) -> None:
    await driver.put_content("t/d/one", b"1")
    await driver.put_content("t/d/two/three", b"3")
    assert await driver.list("t/d") == ["t/d/one", "t/d/two"]
    await driver.delete("t/d")
    with pytest.raises(PathNotFound):
        await driver.list("t/d")
    await clean(driver)


async def test_put_content_leaves_no_temporary_files(driver: StorageDriver) -> None:
    for i in range(3):
        await driver.put_content("t/x/file", str(i).encode())
    assert await driver.list("t/x") == ["t/x/file"]
    await clean(driver)


def test_unknown_backend_fails_at_start_up() -> None:
    with pytest.raises(StorageError, match="unknown storage backend"):
        create_driver("nosuchthing")


def test_filesystem_refuses_paths_outside_its_root(tmp_path: object) -> None:
    driver = create_driver("filesystem", root=f"{tmp_path}/root")
    with pytest.raises(StorageError):
        driver.local_file("../escape")


async def write_in_requests(driver: StorageDriver, path: str, data: bytes, request_sizes: list[int]) -> None:
    """Append ``data`` as a chunked push does: one writer per request, each closed at its end."""
    start = 0
    for number, size in enumerate(request_sizes):
        writer = await driver.writer(path, append=number > 0)
        assert writer.size == start
        piece = data[start : start + size]
        await writer.write([piece[i : i + 1024 * 1024] for i in range(0, len(piece), 1024 * 1024)])
        start += len(piece)
        assert writer.size == start
        await writer.close()


async def test_chunked_writes_larger_than_a_part_move_into_one_file(driver: StorageDriver) -> None:
    # Requests smaller than a part, then one spanning parts, then a short last one: on S3 the
    # small pieces wait in the store and become parts of at least PART_SIZE when moved.
    data = os.urandom(2 * PART_SIZE + 3 * 1024 * 1024 + 5)
    sizes = [1024 * 1024, 7, PART_SIZE + 2 * 1024 * 1024, 1024 * 1024, len(data)]
    await write_in_requests(driver, "t/up/data", data, sizes)
    writer = await driver.writer("t/up/data", append=True)
    await writer.commit()
    assert (await driver.stat("t/up/data")).size == len(data)
    # An upload's bytes can be read back before it is moved (to resume its hash elsewhere).
    assert await read_all(driver, "t/up/data", PART_SIZE - 10, 20) == data[PART_SIZE - 10 : PART_SIZE + 10]
    await driver.move("t/up/data", "t/blob/data")
    assert (await driver.stat("t/blob/data")).size == len(data)
    assert await read_all(driver, "t/blob/data") == data
    assert await read_all(driver, "t/blob/data", PART_SIZE + 1, 100) == data[PART_SIZE + 1 : PART_SIZE + 101]
    with pytest.raises(PathNotFound):
        await driver.stat("t/up/data")
    await clean(driver)


async def test_another_process_continues_a_write(driver_factory: Factory) -> None:
    first, second = driver_factory(), driver_factory()
    writer = await first.writer("t/shared")
    await writer.write([b"from the first, "])
    await writer.close()
    writer = await second.writer("t/shared", append=True)
    await writer.write([b"then the second"])
    await writer.commit()
    assert await read_all(first, "t/shared") == b"from the first, then the second"
    await clean(first)


async def test_an_empty_new_file_exists(driver: StorageDriver) -> None:
    writer = await driver.writer("t/empty")
    await writer.close()
    assert (await driver.stat("t/empty")).size == 0
    assert await read_all(driver, "t/empty") == b""
    await driver.delete("t/empty")


async def test_walk_lists_every_file_below_a_path_across_pages(driver: StorageDriver) -> None:
    files = {"t/w/a": b"1", "t/w/b/c": b"22", "t/w/b/d/e": b"333", "t/w/f": b"4444", "t/other": b"5"}
    for path, data in files.items():
        await driver.put_content(path, data)
    writer = await driver.writer("t/w/upload")  # a file being written counts as one file
    await writer.write([b"abcdef"])
    await writer.close()
    walked = {info.path: info.size async for info in driver.walk("t/w")}
    expected = {path: len(data) for path, data in files.items() if path.startswith("t/w/")}
    assert walked == {**expected, "t/w/upload": 6}
    assert [info async for info in driver.walk("t/nothing")] == []
    await clean(driver)


async def test_delete_many_removes_files_and_ignores_missing_ones(driver: StorageDriver) -> None:
    paths = [f"t/many/{i:02d}" for i in range(7)]
    for path in paths:
        await driver.put_content(path, b"x")
    await driver.delete_many([*paths[:5], "t/many/never-there"])
    assert [info.path async for info in driver.walk("t")] == paths[5:]
    await driver.delete_many(paths[5:])
    assert [info async for info in driver.walk("t")] == []


async def test_reads_past_the_end_are_empty(driver: StorageDriver) -> None:
    await driver.put_content("t/short", b"abc")
    assert await read_all(driver, "t/short", 3) == b""
    assert await read_all(driver, "t/short", 10, 5) == b""
    assert await read_all(driver, "t/short", 1, 0) == b""
    await clean(driver)


async def test_redirect_url_is_none_or_serves_the_file(driver_factory: Factory) -> None:
    driver = driver_factory()
    await driver.put_content("t/r", b"redirected")
    url = await driver.redirect_url("t/r")
    if url is not None:
        import httpx

        async with httpx.AsyncClient() as http:
            response = await http.get(url, headers={"Range": "bytes=2-"})
        assert response.status_code == 206
        assert response.content == b"directed"
    await clean(driver)
