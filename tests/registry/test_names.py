"""Repository names (spec: "Overview", name grammar) and official-image aliases.

A one-component name is an official image: ``rockylinux`` and ``library/rockylinux``
are the same repository, whichever spelling pushed it.
"""

from __future__ import annotations

import httpx
import pytest

from tests.registry.helpers import (
    assert_error,
    push_blob,
    push_image,
    random_layer,
    sha256,
    start_upload,
    unique_name,
)

# Names that reach the handler (the route matches) but break the grammar.
INVALID_NAMES = {
    "upper-case": "Test/Repo",
    "double-dot": "test/foo..bar",
    "leading-dash": "-test/repo",
    "trailing-separator": "test/repo_",
    "leading-period-component": "test/.repo",
    "too-long": "a/" + "b" * 254,
}


@pytest.mark.parametrize("name", INVALID_NAMES.values(), ids=INVALID_NAMES.keys())
def test_invalid_name_on_upload_is_name_invalid(client: httpx.Client, name: str) -> None:
    response = client.post(f"/v2/{name}/blobs/uploads/")
    assert_error(response, 400, "NAME_INVALID")


@pytest.mark.parametrize("name", ["Test/Repo", "test/foo..bar", "a/" + "b" * 254])
def test_invalid_name_on_manifest_and_tags_is_name_invalid(client: httpx.Client, name: str) -> None:
    assert_error(client.get(f"/v2/{name}/manifests/latest"), 400, "NAME_INVALID")
    assert_error(client.get(f"/v2/{name}/tags/list"), 400, "NAME_INVALID")


def test_empty_path_component_is_rejected(client: httpx.Client) -> None:
    response = client.post("/v2/a//b/blobs/uploads/")
    assert response.status_code in (400, 404)
    if response.status_code == 400:
        assert_error(response, 400, "NAME_INVALID")


def test_name_of_255_characters_is_accepted(client: httpx.Client) -> None:
    name = f"t{unique_name()}/" + "x" * 200
    name += "y" * (255 - len(name))
    assert len(name) == 255
    assert start_upload(client, name).status_code == 202


@pytest.mark.parametrize("name_tail", ["a.b", "a_b", "a__b", "a---b", "a/b/c/d"])
def test_separator_variants_are_valid(client: httpx.Client, name_tail: str) -> None:
    assert start_upload(client, f"t{unique_name()}/{name_tail}").status_code == 202


def test_official_image_pushed_short_is_read_under_library(client: httpx.Client) -> None:
    name = unique_name()
    image = push_image(client, name, "9")
    response = client.get(f"/v2/library/{name}/manifests/9")
    assert response.status_code == 200
    assert response.content == image.manifest
    assert client.get(f"/v2/library/{name}/blobs/{sha256(image.layers[0])}").content == image.layers[0]
    assert client.get(f"/v2/library/{name}/tags/list").json()["tags"] == ["9"]


def test_official_image_pushed_under_library_is_read_short(client: httpx.Client) -> None:
    name = unique_name()
    image = push_image(client, f"library/{name}", "9")
    response = client.get(f"/v2/{name}/manifests/9")
    assert response.status_code == 200
    assert response.content == image.manifest
    assert client.get(f"/v2/{name}/tags/list").json()["tags"] == ["9"]


def test_official_image_upload_session_spans_both_spellings(client: httpx.Client) -> None:
    name = unique_name()
    data = random_layer(100)
    digest = push_blob(client, name, data)
    assert client.head(f"/v2/library/{name}/blobs/{digest}").status_code == 200
