"""Pushing blobs: sessions, monolithic, chunked and streamed uploads, mounts, bad input.

Spec: "Pushing blobs" (end-4a, end-4b, end-5, end-6, end-11, end-13, end-14) and the
conformance suite's "Blob Upload Streamed / Monolithic / Chunked" contexts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Server
from tests.registry.helpers import (
    ABSENT_DIGEST,
    assert_error,
    head_blob,
    path_and_query,
    path_of,
    post_upload,
    push_blob,
    random_layer,
    sha256,
    sha512,
    start_upload,
    unique_repo,
    with_query,
)

OCTET = {"Content-Type": "application/octet-stream"}


def patch_chunk(client: httpx.Client, location: str, data: bytes, start: int) -> httpx.Response:
    headers = {**OCTET, "Content-Range": f"{start}-{start + len(data) - 1}"}
    return client.patch(location, content=data, headers=headers)


def finish(client: httpx.Client, location: str, digest: str, data: bytes = b"") -> httpx.Response:
    return client.put(with_query(location, digest=digest), content=data, headers=OCTET)


def assert_blob(client: httpx.Client, repo: str, data: bytes, digest: str | None = None) -> None:
    response = client.get(f"/v2/{repo}/blobs/{digest or sha256(data)}")
    assert response.status_code == 200, response.text
    assert response.content == data


# Sessions ----------------------------------------------------------------------------------------


def test_post_starts_an_upload_session(client: httpx.Client, repo: str) -> None:
    response = client.post(f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    assert response.status_code == 202
    upload_id = response.headers["docker-upload-uuid"]
    assert upload_id
    location = response.headers["location"]
    assert path_of(location).startswith(f"/v2/{repo}/blobs/uploads/")
    assert upload_id in location
    assert response.headers["range"] == "0-0"
    assert int(response.headers["oci-chunk-min-length"]) >= 0


def test_each_post_gets_its_own_session(client: httpx.Client, repo: str) -> None:
    first = start_upload(client, repo).headers
    second = start_upload(client, repo).headers
    assert first["docker-upload-uuid"] != second["docker-upload-uuid"]
    assert first["location"] != second["location"]


def test_upload_status_of_new_session(client: httpx.Client, repo: str) -> None:
    started = start_upload(client, repo)
    response = client.get(started.headers["location"])
    assert response.status_code == 204
    assert response.headers["range"] == "0-0"
    assert response.headers["docker-upload-uuid"] == started.headers["docker-upload-uuid"]
    assert response.headers["location"]


def test_upload_status_reports_received_bytes(client: httpx.Client, repo: str) -> None:
    started = start_upload(client, repo)
    patched = patch_chunk(client, started.headers["location"], random_layer(10), 0)
    assert patched.status_code == 202
    response = client.get(patched.headers["location"])
    assert response.status_code == 204
    assert response.headers["range"] == "0-9"
    assert response.headers["docker-upload-uuid"] == started.headers["docker-upload-uuid"]
    assert path_of(response.headers["location"]).startswith(f"/v2/{repo}/blobs/uploads/")


def test_cancelled_upload_is_gone(client: httpx.Client, repo: str) -> None:
    location = start_upload(client, repo).headers["location"]
    assert patch_chunk(client, location, b"abc", 0).status_code == 202
    response = client.delete(location)
    assert response.status_code == 204
    assert_error(client.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(patch_chunk(client, location, b"def", 3), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(finish(client, location, sha256(b"abc")), 404, "BLOB_UPLOAD_UNKNOWN")
    assert head_blob(client, repo, sha256(b"abc")) == 404


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_unknown_upload_id_is_404(client: httpx.Client, repo: str, method: str) -> None:
    push_blob(client, repo, random_layer(8))  # the repository exists; only the session does not
    url = f"/v2/{repo}/blobs/uploads/{uuid.uuid4()}"
    if method == "PUT":
        url = with_query(url, digest=sha256(b"x"))
    response = client.request(method, url, content=b"x" if method in ("PATCH", "PUT") else None)
    assert_error(response, 404, "BLOB_UPLOAD_UNKNOWN")


def test_upload_session_is_bound_to_its_repository(client: httpx.Client, repo: str) -> None:
    location = start_upload(client, repo).headers["location"]
    other = unique_repo()
    start_upload(client, other)
    foreign = path_and_query(location).replace(f"/v2/{repo}/", f"/v2/{other}/", 1)
    assert_error(client.get(foreign), 404, "BLOB_UPLOAD_UNKNOWN")
    data = random_layer(16)
    assert_error(finish(client, foreign, sha256(data), data), 404, "BLOB_UPLOAD_UNKNOWN")
    assert head_blob(client, other, sha256(data)) == 404


def test_completed_session_cannot_be_reused(client: httpx.Client, repo: str) -> None:
    data = random_layer(32)
    location = start_upload(client, repo).headers["location"]
    assert finish(client, location, sha256(data), data).status_code == 201
    assert_error(client.get(location), 404, "BLOB_UPLOAD_UNKNOWN")


# Monolithic --------------------------------------------------------------------------------------


def test_single_post_monolithic_upload(client: httpx.Client, repo: str) -> None:
    data = random_layer(500)
    digest = sha256(data)
    response = post_upload(client, repo, data, digest=digest)
    assert response.status_code == 201
    assert response.headers["docker-content-digest"] == digest
    assert path_of(response.headers["location"]) == f"/v2/{repo}/blobs/{digest}"
    assert_blob(client, repo, data)


def test_post_then_put_monolithic_upload(client: httpx.Client, repo: str) -> None:
    data = random_layer(500)
    digest = sha256(data)
    location = start_upload(client, repo).headers["location"]
    response = finish(client, location, digest, data)
    assert response.status_code == 201
    assert response.headers["docker-content-digest"] == digest
    assert path_of(response.headers["location"]) == f"/v2/{repo}/blobs/{digest}"
    assert_blob(client, repo, data)


def test_uploading_existing_content_again_succeeds(client: httpx.Client, repo: str) -> None:
    data = random_layer(100)
    push_blob(client, repo, data)
    push_blob(client, repo, data)
    assert_blob(client, repo, data)


# Chunked -----------------------------------------------------------------------------------------


def test_chunked_upload_in_order(client: httpx.Client, repo: str) -> None:
    data = random_layer(3000)
    started = start_upload(client, repo)
    location = started.headers["location"]
    for start in (0, 1000, 2000):
        response = patch_chunk(client, location, data[start : start + 1000], start)
        assert response.status_code == 202, response.text
        assert response.headers["range"] == f"0-{start + 999}"
        assert response.headers["docker-upload-uuid"] == started.headers["docker-upload-uuid"]
        location = response.headers["location"]
    response = finish(client, location, sha256(data))
    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == sha256(data)
    assert response.headers["location"]
    assert_blob(client, repo, data)


def test_final_chunk_may_come_with_the_put(client: httpx.Client, repo: str) -> None:
    data = random_layer(2000)
    location = start_upload(client, repo).headers["location"]
    response = patch_chunk(client, location, data[:1200], 0)
    assert response.status_code == 202
    response = client.put(
        with_query(response.headers["location"], digest=sha256(data)),
        content=data[1200:],
        headers={**OCTET, "Content-Range": f"1200-{len(data) - 1}"},
    )
    assert response.status_code == 201, response.text
    assert_blob(client, repo, data)


def test_final_chunk_out_of_order_in_put_is_416(client: httpx.Client, repo: str) -> None:
    # The chunk carried by the closing PUT is a chunk too: out of order, it gets 416, not an append.
    data = random_layer(300)
    location = start_upload(client, repo).headers["location"]
    location = patch_chunk(client, location, data[:100], 0).headers["location"]
    response = client.put(
        with_query(location, digest=sha256(data)),
        content=data[200:],
        headers={**OCTET, "Content-Range": "200-299"},
    )
    assert response.status_code == 416, response.text
    assert head_blob(client, repo, sha256(data)) == 404
    # As after any 416, the session is intact and the client resumes from where it stands.
    status = client.get(location)
    assert status.status_code == 204
    assert status.headers["range"] == "0-99"
    assert finish(client, location, sha256(data), data[100:]).status_code == 201


def test_chunks_crossing_internal_buffer_sizes(client: httpx.Client, repo: str) -> None:
    sizes = [1024 * 1024 - 1, 1024 * 1024 + 1, 3_000_001, 7]
    data = random_layer(sum(sizes))
    location = start_upload(client, repo).headers["location"]
    start = 0
    for size in sizes[:-1]:
        response = patch_chunk(client, location, data[start : start + size], start)
        assert response.status_code == 202, response.text
        start += size
        assert response.headers["range"] == f"0-{start - 1}"
        location = response.headers["location"]
    response = client.put(
        with_query(location, digest=sha256(data)),
        content=data[start:],
        headers={**OCTET, "Content-Range": f"{start}-{len(data) - 1}"},
    )
    assert response.status_code == 201, response.text
    assert_blob(client, repo, data)


def test_first_chunk_not_at_zero_is_416(client: httpx.Client, repo: str) -> None:
    location = start_upload(client, repo).headers["location"]
    response = patch_chunk(client, location, random_layer(100), 100)
    assert response.status_code == 416
    status = client.get(location)
    assert status.status_code == 204
    assert status.headers["range"] == "0-0"


def test_out_of_order_chunk_is_416_and_upload_can_resume(client: httpx.Client, repo: str) -> None:
    data = random_layer(300)
    location = start_upload(client, repo).headers["location"]
    location = patch_chunk(client, location, data[:100], 0).headers["location"]
    assert patch_chunk(client, location, data[200:], 200).status_code == 416  # gap
    assert patch_chunk(client, location, data[:100], 0).status_code == 416  # overlap
    status = client.get(location)
    assert status.status_code == 204
    assert status.headers["range"] == "0-99"
    response = patch_chunk(client, status.headers["location"], data[100:], 100)
    assert response.status_code == 202
    assert response.headers["range"] == "0-299"
    assert finish(client, response.headers["location"], sha256(data)).status_code == 201
    assert_blob(client, repo, data)


def test_content_range_disagreeing_with_body_is_rejected(client: httpx.Client, repo: str) -> None:
    location = start_upload(client, repo).headers["location"]
    response = client.patch(location, content=random_layer(50), headers={**OCTET, "Content-Range": "0-99"})
    assert response.status_code in (400, 416), response.text
    status = client.get(location)
    assert status.status_code == 204
    assert status.headers["range"] == "0-0"


# Streamed (docker's flow: POST, one PATCH without Content-Range, empty PUT) ------------------------


def test_streamed_patch_without_content_range(client: httpx.Client, repo: str) -> None:
    data = random_layer(4000)
    location = start_upload(client, repo).headers["location"]
    response = client.patch(location, content=data, headers=OCTET)
    assert response.status_code == 202
    assert response.headers["range"] == f"0-{len(data) - 1}"
    response = finish(client, response.headers["location"], sha256(data))
    assert response.status_code == 201
    assert_blob(client, repo, data)


def test_streamed_patch_with_chunked_transfer_encoding(client: httpx.Client, repo: str) -> None:
    data = random_layer(200_000)

    def body() -> Iterator[bytes]:
        for start in range(0, len(data), 65_536):
            yield data[start : start + 65_536]

    location = start_upload(client, repo).headers["location"]
    response = client.patch(location, content=body(), headers=OCTET)
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 202
    assert response.headers["range"] == f"0-{len(data) - 1}"
    assert finish(client, response.headers["location"], sha256(data)).status_code == 201
    assert_blob(client, repo, data)


def test_successive_streamed_patches_append(client: httpx.Client, repo: str) -> None:
    first, second = random_layer(100), random_layer(150)
    location = start_upload(client, repo).headers["location"]
    location = client.patch(location, content=first, headers=OCTET).headers["location"]
    response = client.patch(location, content=second, headers=OCTET)
    assert response.status_code == 202
    assert response.headers["range"] == "0-249"
    assert finish(client, response.headers["location"], sha256(first + second)).status_code == 201
    assert_blob(client, repo, first + second)


# Digests -----------------------------------------------------------------------------------------


def test_wrong_digest_on_put_is_rejected_and_nothing_stored(client: httpx.Client, repo: str) -> None:
    data = random_layer(100)
    claimed = sha256(b"something else " + data)
    location = start_upload(client, repo).headers["location"]
    assert_error(finish(client, location, claimed, data), 400, "DIGEST_INVALID")
    assert head_blob(client, repo, claimed) == 404
    assert head_blob(client, repo, sha256(data)) == 404
    push_blob(client, repo, data)
    assert_blob(client, repo, data)


def test_wrong_digest_on_single_post_is_rejected(client: httpx.Client, repo: str) -> None:
    data = random_layer(100)
    claimed = sha256(b"not " + data)
    response = post_upload(client, repo, data, digest=claimed)
    assert_error(response, 400, "DIGEST_INVALID")
    assert head_blob(client, repo, claimed) == 404
    assert head_blob(client, repo, sha256(data)) == 404


def test_put_without_digest_is_rejected(client: httpx.Client, repo: str) -> None:
    location = start_upload(client, repo).headers["location"]
    response = client.put(location, content=b"abc", headers=OCTET)
    assert_error(response, 400, "DIGEST_INVALID")


def test_chunked_upload_with_sha512(client: httpx.Client, repo: str) -> None:
    data = random_layer(2500)
    location = start_upload(client, repo).headers["location"]
    location = patch_chunk(client, location, data[:2000], 0).headers["location"]
    response = finish(client, location, sha512(data), data[2000:])
    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == sha512(data)
    assert_blob(client, repo, data, sha512(data))


MALFORMED = [
    "sha256:xyz",
    "sha256:" + "0" * 63,
    "sha256:" + "G" * 64,
    "sha256",
    "md5:" + "0" * 32,
]


@pytest.mark.parametrize("digest", MALFORMED)
def test_malformed_digest_on_put_is_digest_invalid(client: httpx.Client, repo: str, digest: str) -> None:
    location = start_upload(client, repo).headers["location"]
    assert_error(finish(client, location, digest, b"data"), 400, "DIGEST_INVALID")


@pytest.mark.parametrize("digest", MALFORMED[:2])
def test_malformed_digest_on_single_post_is_digest_invalid(
    client: httpx.Client, repo: str, digest: str
) -> None:
    response = post_upload(client, repo, b"data", digest=digest)
    assert_error(response, 400, "DIGEST_INVALID")


# Partial input -----------------------------------------------------------------------------------


def test_truncated_chunked_upload_does_not_become_a_blob(client: httpx.Client, repo: str) -> None:
    data = random_layer(1000)
    location = start_upload(client, repo).headers["location"]
    location = patch_chunk(client, location, data[:600], 0).headers["location"]
    assert_error(finish(client, location, sha256(data)), 400, "DIGEST_INVALID")
    assert head_blob(client, repo, sha256(data)) == 404
    push_blob(client, repo, data)
    assert_blob(client, repo, data)


# Dropped connections: test_real_server.py (they need a socket to drop).


# Resumability ------------------------------------------------------------------------------------


def test_upload_session_survives_restart(fresh_registry: Server) -> None:
    data = random_layer(3000)
    repo = unique_repo()
    with fresh_registry.client() as client:
        location = start_upload(client, repo).headers["location"]
        response = patch_chunk(client, location, data[:1000], 0)
        assert response.status_code == 202
        location = path_and_query(response.headers["location"])
    fresh_registry.restart()  # new services and app on the same data folder: nothing kept in memory
    with fresh_registry.client() as client:
        status = client.get(location)
        assert status.status_code == 204
        assert status.headers["range"] == "0-999"
        response = patch_chunk(client, status.headers["location"], data[1000:], 1000)
        assert response.status_code == 202
        assert response.headers["range"] == "0-2999"
        response = finish(client, response.headers["location"], sha256(data))
        assert response.status_code == 201, response.text
        assert_blob(client, repo, data)


# A crash (SIGKILL): test_real_server.py.


# Cross-repository mounts -------------------------------------------------------------------------


def test_mount_from_another_repository(client: httpx.Client, repo: str) -> None:
    data = random_layer(700)
    digest = push_blob(client, repo, data)
    target = unique_repo()
    response = post_upload(client, target, mount=digest, from_=repo)
    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == digest
    assert path_of(response.headers["location"]) == f"/v2/{target}/blobs/{digest}"
    assert_blob(client, target, data)


def test_mount_of_blob_missing_from_source_starts_an_upload(client: httpx.Client, repo: str) -> None:
    push_blob(client, repo, random_layer(10))
    target = unique_repo()
    response = post_upload(client, target, mount=ABSENT_DIGEST, from_=repo)
    assert response.status_code == 202
    assert response.headers["docker-upload-uuid"]
    assert path_of(response.headers["location"]).startswith(f"/v2/{target}/blobs/uploads/")
    data = random_layer(40)
    assert finish(client, response.headers["location"], sha256(data), data).status_code == 201
    assert_blob(client, target, data)


def test_mount_from_unknown_repository_starts_an_upload(client: httpx.Client, repo: str) -> None:
    response = post_upload(client, repo, mount=ABSENT_DIGEST, from_=unique_repo())
    assert response.status_code == 202
    assert response.headers["location"]


def test_mount_without_from_of_unknown_blob_starts_an_upload(client: httpx.Client, repo: str) -> None:
    response = post_upload(client, repo, mount=ABSENT_DIGEST)
    assert response.status_code == 202
    assert path_of(response.headers["location"]).startswith(f"/v2/{repo}/blobs/uploads/")


def test_mount_without_from_finds_the_blob(client: httpx.Client, repo: str) -> None:
    data = random_layer(70)
    digest = push_blob(client, repo, data)
    target = unique_repo()
    response = post_upload(client, target, mount=digest)
    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == digest
    assert response.headers["location"]
    assert_blob(client, target, data)
