"""The API version check (spec: "API Version Check", end-1) and the error body format."""

from __future__ import annotations

import httpx

from tests.registry.helpers import ABSENT_DIGEST, API_VERSION_HEADER, assert_error


def test_base_endpoint_returns_200_with_api_version_header(client: httpx.Client) -> None:
    response = client.get("/v2/")
    assert response.status_code == 200
    assert response.headers[API_VERSION_HEADER] == "registry/2.0"


def test_base_endpoint_answers_head(client: httpx.Client) -> None:
    response = client.head("/v2/")
    assert response.status_code == 200
    assert response.headers[API_VERSION_HEADER] == "registry/2.0"


def test_error_body_has_code_message_and_detail(client: httpx.Client, repo: str) -> None:
    response = client.get(f"/v2/{repo}/blobs/{ABSENT_DIGEST}")
    entry = assert_error(response, 404, "BLOB_UNKNOWN")
    assert entry["message"]
    assert "detail" in entry


def test_error_responses_carry_the_api_version_header(client: httpx.Client, repo: str) -> None:
    response = client.get(f"/v2/{repo}/manifests/latest")
    assert response.status_code == 404
    assert response.headers[API_VERSION_HEADER] == "registry/2.0"


def test_unknown_v2_route_is_404_with_error_body(client: httpx.Client) -> None:
    response = client.get("/v2/a/b/c/not-a-route")
    assert_error(response, 404)


def test_unsupported_method_is_405_unsupported(client: httpx.Client, repo: str) -> None:
    response = client.post(f"/v2/{repo}/tags/list")
    assert_error(response, 405, "UNSUPPORTED")
