"""Pulling blobs: GET/HEAD, Range requests, repository scoping (spec: "Pulling blobs", end-2)."""

from __future__ import annotations

import httpx
import pytest

from tests.registry.helpers import (
    ABSENT_DIGEST,
    assert_error,
    push_blob,
    random_layer,
    sha256,
    sha512,
    start_upload,
    unique_repo,
    with_query,
)


@pytest.fixture
def blob(client: httpx.Client, repo: str) -> tuple[bytes, str]:
    data = random_layer(1000)
    return data, push_blob(client, repo, data)


def test_get_blob_returns_bytes_and_headers(client: httpx.Client, repo: str, blob: tuple[bytes, str]) -> None:
    data, digest = blob
    response = client.get(f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["docker-content-digest"] == digest
    assert digest in response.headers["etag"]
    assert response.headers["content-type"] == "application/octet-stream"


def test_head_blob_has_headers_and_no_body(client: httpx.Client, repo: str, blob) -> None:
    data, digest = blob
    response = client.head(f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["docker-content-digest"] == digest
    assert digest in response.headers["etag"]
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.content == b""  # and nothing on the wire either: test_real_server.py


def test_range_request_returns_206_with_content_range(client: httpx.Client, repo: str, blob) -> None:
    data, digest = blob
    response = client.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.content == data[10:20]
    assert response.headers["content-range"] == f"bytes 10-19/{len(data)}"
    assert response.headers["content-length"] == "10"


def test_open_ended_range_resumes_a_download(client: httpx.Client, repo: str, blob) -> None:
    data, digest = blob
    response = client.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=900-"})
    assert response.status_code == 206
    assert response.content == data[900:]
    assert response.headers["content-range"] == f"bytes 900-999/{len(data)}"


def test_suffix_range_returns_the_tail(client: httpx.Client, repo: str, blob) -> None:
    data, digest = blob
    response = client.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=-5"})
    assert response.status_code == 206
    assert response.content == data[-5:]
    assert response.headers["content-range"] == f"bytes 995-999/{len(data)}"


def test_range_past_the_end_is_clamped(client: httpx.Client, repo: str, blob) -> None:
    # RFC 9110 14.1.2: a last-pos beyond the representation is replaced by its length - 1.
    data, digest = blob
    response = client.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=990-5000"})
    assert response.status_code == 206
    assert response.content == data[990:]
    assert response.headers["content-range"] == f"bytes 990-999/{len(data)}"


def test_unsatisfiable_range_is_416(client: httpx.Client, repo: str, blob) -> None:
    data, digest = blob
    response = client.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=5000-6000"})
    assert response.status_code == 416
    assert response.headers.get("content-range", f"bytes */{len(data)}") == f"bytes */{len(data)}"


def test_get_unknown_blob_is_404_blob_unknown(client: httpx.Client, repo: str, blob) -> None:
    response = client.get(f"/v2/{repo}/blobs/{ABSENT_DIGEST}")
    assert_error(response, 404, "BLOB_UNKNOWN")


def test_get_blob_in_unknown_repo_is_404(client: httpx.Client) -> None:
    response = client.get(f"/v2/{unique_repo()}/blobs/{ABSENT_DIGEST}")
    assert_error(response, 404, "BLOB_UNKNOWN", "NAME_UNKNOWN")


def test_head_unknown_blob_is_404_without_body(client: httpx.Client, repo: str, blob) -> None:
    response = client.head(f"/v2/{repo}/blobs/{ABSENT_DIGEST}")
    assert (response.status_code, response.content) == (404, b"")  # the wire: test_real_server.py


def test_blob_is_scoped_to_its_repository(client: httpx.Client, repo: str, blob) -> None:
    _, digest = blob
    other = unique_repo()
    push_blob(client, other, random_layer(10))  # the other repository exists
    assert_error(client.get(f"/v2/{other}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert client.head(f"/v2/{other}/blobs/{digest}").status_code == 404


def test_blob_pushed_with_sha512_is_served_by_sha512(client: httpx.Client, repo: str) -> None:
    data = random_layer(300)
    digest = push_blob(client, repo, data, digest=sha512(data))
    response = client.get(f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["docker-content-digest"] == digest


def test_empty_blob_round_trips(client: httpx.Client, repo: str) -> None:
    digest = push_blob(client, repo, b"")
    response = client.get(f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"
    assert response.headers["docker-content-digest"] == sha256(b"")


def test_large_blob_round_trips_intact(client: httpx.Client, repo: str) -> None:
    data = random_layer(5 * 1024 * 1024 + 7)
    digest = push_blob(client, repo, data)
    response = client.get(f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 200
    assert sha256(response.content) == digest


def test_malformed_digest_on_get_is_rejected(client: httpx.Client, repo: str, blob) -> None:
    response = client.get(f"/v2/{repo}/blobs/sha256:not-hex")
    assert_error(response, (400, 404), "DIGEST_INVALID", "BLOB_UNKNOWN")
    response = client.get(f"/v2/{repo}/blobs/sha256:abc")
    assert_error(response, (400, 404), "DIGEST_INVALID", "BLOB_UNKNOWN")


def test_blob_location_from_upload_is_pullable(client: httpx.Client, repo: str) -> None:
    data = random_layer(64)
    location = start_upload(client, repo).headers["location"]
    response = client.put(with_query(location, digest=sha256(data)), content=data)
    assert response.status_code == 201
    pulled = client.get(response.headers["location"])
    assert pulled.status_code == 200
    assert pulled.content == data
