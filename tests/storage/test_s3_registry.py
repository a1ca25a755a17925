"""The registry on S3, through a real `dockyard serve` and the real store: chunked pushes become
multipart objects, content already stored is never copied again, blob GETs stream with ranges or
redirect to a presigned URL, and the store's failures answer in the registry's format."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from starlette.applications import Starlette
from starlette.routing import Route

from dockyard.registry.app import storage_unavailable_error
from dockyard.storage import PathNotFound, StorageError, StorageFull, StorageUnavailable
from dockyard.storage.s3 import S3Options, make_client
from dockyard.storage.s3 import mapped as map_error
from tests.conftest import OPEN_REGISTRY, DockyardServer
from tests.storage.s3store import driver_options, settings_env

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def store(s3_bucket: tuple[dict[str, str], str]) -> tuple[dict[str, str], str, str]:
    env, bucket = s3_bucket
    return env, bucket, f"server-{uuid.uuid4().hex[:8]}"


def serve(tmp: Path, store: tuple[dict[str, str], str, str], **extra: str) -> DockyardServer:
    env, bucket, prefix = store
    settings = settings_env(
        env, bucket, DOCKYARD_S3_PREFIX=prefix, DOCKYARD_S3_PART_SIZE=str(5 * MiB), **extra
    )
    return DockyardServer(tmp / "data", env={**OPEN_REGISTRY, **settings})


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, store: tuple[dict[str, str], str, str]
) -> Iterator[DockyardServer]:
    with serve(tmp_path_factory.mktemp("s3-registry"), store) as running:
        yield running


@pytest.fixture
def http(server: DockyardServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def s3(store: tuple[dict[str, str], str, str]) -> Any:
    env, bucket, _ = store
    return make_client(S3Options(**driver_options(env, bucket)))


def blob_key(store: tuple[dict[str, str], str, str], digest: str) -> str:
    hexdigest = digest.split(":", 1)[1]
    return f"{store[2]}/blobs/sha256/{hexdigest[:2]}/{hexdigest}/data"


def chunked_push(http: httpx.Client, repo: str, data: bytes, sizes: list[int]) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = http.post(f"/v2/{repo}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location, offset = started.headers["Location"], 0
    for size in sizes:
        piece = data[offset : offset + size]
        headers = {
            "Content-Range": f"{offset}-{offset + len(piece) - 1}",
            "Content-Type": "application/octet-stream",
        }
        patched = http.patch(location, content=piece, headers=headers)
        assert patched.status_code == 202, patched.text
        location, offset = patched.headers["Location"], offset + len(piece)
    done = http.put(location, params={"digest": digest}, content=data[offset:])
    assert done.status_code == 201, done.text
    return digest


def test_a_chunked_push_becomes_one_multipart_object(
    http: httpx.Client, s3: Any, store: tuple[dict[str, str], str, str]
) -> None:
    data = os.urandom(10 * MiB + 100)
    digest = chunked_push(http, "s3/chunked", data, [1 * MiB, 6 * MiB, 3 * MiB])
    head = s3.head_object(Bucket=store[1], Key=blob_key(store, digest))
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-3"), head["ETag"]  # parts of 5, 5 MiB and 100 bytes
    pulled = http.get(f"/v2/s3/chunked/blobs/{digest}")
    assert pulled.status_code == 200
    assert hashlib.sha256(pulled.content).hexdigest() == digest.split(":")[1]
    ranged = http.get(
        f"/v2/s3/chunked/blobs/{digest}", headers={"Range": f"bytes={5 * MiB - 3}-{5 * MiB + 2}"}
    )
    assert ranged.status_code == 206
    assert ranged.content == data[5 * MiB - 3 : 5 * MiB + 3]
    leftovers = s3.list_objects_v2(Bucket=store[1], Prefix=f"{store[2]}/uploads/").get("KeyCount", 0)
    assert leftovers == 0


def test_a_second_push_and_a_mount_copy_nothing(
    http: httpx.Client, s3: Any, store: tuple[dict[str, str], str, str]
) -> None:
    data = os.urandom(6 * MiB)
    digest = chunked_push(http, "s3/first", data, [])
    key = blob_key(store, digest)
    written = s3.head_object(Bucket=store[1], Key=key)["LastModified"]
    # The same bytes pushed again into another repository (a client that did not ask first)...
    assert chunked_push(http, "s3/second", data, [2 * MiB]) == digest
    # ...and mounted into a third.
    mounted = http.post("/v2/s3/third/blobs/uploads/", params={"mount": digest, "from": "s3/first"})
    assert mounted.status_code == 201, mounted.text
    assert s3.head_object(Bucket=store[1], Key=key)["LastModified"] == written
    for repo in ("s3/second", "s3/third"):
        assert http.head(f"/v2/{repo}/blobs/{digest}").headers["Content-Length"] == str(len(data))


def test_blob_get_redirects_to_a_presigned_url_when_asked(
    tmp_path: Path, store: tuple[dict[str, str], str, str]
) -> None:
    with (
        serve(tmp_path, store, DOCKYARD_S3_REDIRECT="true") as running,
        httpx.Client(base_url=running.url, timeout=60) as http,
    ):
        data = os.urandom(1000)
        digest = chunked_push(http, "s3/redirected", data, [])
        head = http.head(f"/v2/s3/redirected/blobs/{digest}")
        assert head.status_code == 200 and head.headers["Content-Length"] == "1000"
        answer = http.get(f"/v2/s3/redirected/blobs/{digest}")
        assert answer.status_code == 307
        assert answer.headers["Docker-Content-Digest"] == digest
        assert answer.headers["Location"].startswith(store[0]["AWS_ENDPOINT_URL"])
        assert httpx.get(answer.headers["Location"]).content == data
        missing = http.get(f"/v2/s3/redirected/blobs/sha256:{'0' * 64}")
        assert missing.status_code == 404  # access and existence are checked before any redirect


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")


@pytest.mark.parametrize(
    ("error", "mapped"),
    [
        (client_error("NoSuchKey", 404), PathNotFound),
        (client_error("404", 404), PathNotFound),
        (client_error("SlowDown", 503), StorageUnavailable),
        (client_error("InternalError", 500), StorageUnavailable),
        (client_error("QuotaExceeded", 403), StorageFull),
        (client_error("AccessDenied", 403), StorageError),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), StorageUnavailable),
    ],
)
def test_store_errors_map_to_storage_errors(error: Exception, mapped: type[StorageError]) -> None:
    assert type(map_error(error, "blobs/x")) is mapped


@pytest.mark.anyio
async def test_an_unavailable_store_is_503_in_the_registry_format() -> None:
    async def failing(request: Any) -> Any:
        raise StorageUnavailable("object store unavailable for blobs/x: SlowDown")

    app = Starlette(
        routes=[Route("/v2/r/blobs/x", failing)],
        exception_handlers={StorageUnavailable: storage_unavailable_error},
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answer = await client.get("/v2/r/blobs/x")
    assert answer.status_code == 503
    assert answer.json()["errors"][0]["code"] == "UNAVAILABLE"


def test_a_missing_bucket_is_created(store: tuple[dict[str, str], str, str]) -> None:
    from dockyard.storage import create_driver
    from tests.storage.s3store import new_bucket_name, remove_bucket

    env, bucket = store[0], new_bucket_name()
    try:
        create_driver("s3", **driver_options(env, bucket))
        make_client(S3Options(**driver_options(env, bucket))).head_bucket(Bucket=bucket)
    finally:
        remove_bucket(env, bucket)
