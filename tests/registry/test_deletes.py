"""Content management: deleting manifests, tags and blobs (spec: "Content Management", end-9, end-10)."""

from __future__ import annotations

import httpx

from tests.registry.helpers import (
    ABSENT_DIGEST,
    OCI_MANIFEST,
    assert_error,
    push_blob,
    push_image,
    push_manifest,
    random_layer,
    sha256,
    unique_repo,
)


def test_delete_manifest_by_digest(client: httpx.Client, repo: str) -> None:
    image = push_image(client, repo, "v1")
    response = client.delete(f"/v2/{repo}/manifests/{image.digest}")
    assert response.status_code == 202
    assert_error(client.get(f"/v2/{repo}/manifests/{image.digest}"), 404, "MANIFEST_UNKNOWN")
    assert client.head(f"/v2/{repo}/manifests/{image.digest}").status_code == 404
    # Every tag pointing at it goes too.
    assert_error(client.get(f"/v2/{repo}/manifests/v1"), 404, "MANIFEST_UNKNOWN")
    assert "v1" not in (client.get(f"/v2/{repo}/tags/list").json().get("tags") or [])


def test_delete_by_tag_removes_only_the_tag(client: httpx.Client, repo: str) -> None:
    image = push_image(client, repo, "v1")
    push_manifest(client, repo, "v2", image.manifest, OCI_MANIFEST)
    response = client.delete(f"/v2/{repo}/manifests/v1")
    assert response.status_code == 202
    assert_error(client.get(f"/v2/{repo}/manifests/v1"), 404, "MANIFEST_UNKNOWN")
    assert client.get(f"/v2/{repo}/manifests/{image.digest}").content == image.manifest
    assert client.get(f"/v2/{repo}/manifests/v2").status_code == 200
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["v2"]


def test_delete_blob(client: httpx.Client, repo: str) -> None:
    digest = push_blob(client, repo, random_layer(100))
    response = client.delete(f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 202
    assert_error(client.get(f"/v2/{repo}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert client.head(f"/v2/{repo}/blobs/{digest}").status_code == 404


def test_delete_unknown_manifest_digest_is_404(client: httpx.Client, repo: str) -> None:
    push_image(client, repo, "v1")
    assert_error(client.delete(f"/v2/{repo}/manifests/{ABSENT_DIGEST}"), 404, "MANIFEST_UNKNOWN")


def test_delete_unknown_tag_is_404(client: httpx.Client, repo: str) -> None:
    push_image(client, repo, "v1")
    assert_error(client.delete(f"/v2/{repo}/manifests/nope"), 404, "MANIFEST_UNKNOWN")


def test_delete_unknown_blob_is_404(client: httpx.Client, repo: str) -> None:
    push_blob(client, repo, random_layer(10))
    assert_error(client.delete(f"/v2/{repo}/blobs/{ABSENT_DIGEST}"), 404, "BLOB_UNKNOWN")


def test_delete_in_unknown_repository_is_404(client: httpx.Client) -> None:
    name = unique_repo()
    assert_error(
        client.delete(f"/v2/{name}/manifests/{ABSENT_DIGEST}"), 404, "NAME_UNKNOWN", "MANIFEST_UNKNOWN"
    )
    assert_error(client.delete(f"/v2/{name}/blobs/{ABSENT_DIGEST}"), 404, "NAME_UNKNOWN", "BLOB_UNKNOWN")


def test_deleting_twice_is_404_the_second_time(client: httpx.Client, repo: str) -> None:
    image = push_image(client, repo, "v1")
    assert client.delete(f"/v2/{repo}/manifests/{image.digest}").status_code == 202
    assert_error(client.delete(f"/v2/{repo}/manifests/{image.digest}"), 404, "MANIFEST_UNKNOWN")


def test_blob_delete_in_one_repository_leaves_others(client: httpx.Client, repo: str) -> None:
    data = random_layer(200)
    digest = push_blob(client, repo, data)
    other = unique_repo()
    push_blob(client, other, data)
    assert client.delete(f"/v2/{repo}/blobs/{digest}").status_code == 202
    assert client.get(f"/v2/{other}/blobs/{digest}").content == data


def test_mounted_blob_survives_delete_from_source(client: httpx.Client, repo: str) -> None:
    data = random_layer(200)
    digest = push_blob(client, repo, data)
    target = unique_repo()
    mounted = client.post(f"/v2/{target}/blobs/uploads/?mount={digest}&from={repo}")
    assert mounted.status_code == 201
    assert client.delete(f"/v2/{repo}/blobs/{digest}").status_code == 202
    assert client.get(f"/v2/{target}/blobs/{digest}").content == data


def test_manifest_delete_in_one_repository_leaves_others(client: httpx.Client, repo: str) -> None:
    image = push_image(client, repo, "v1")
    other = unique_repo()
    push_blob(client, other, image.config)
    push_blob(client, other, image.layers[0])
    push_manifest(client, other, "v1", image.manifest, OCI_MANIFEST)
    assert client.delete(f"/v2/{repo}/manifests/{image.digest}").status_code == 202
    assert client.get(f"/v2/{other}/manifests/v1").content == image.manifest


def test_content_can_be_pushed_again_after_delete(client: httpx.Client, repo: str) -> None:
    image = push_image(client, repo, "v1")
    layer_digest = sha256(image.layers[0])
    assert client.delete(f"/v2/{repo}/manifests/{image.digest}").status_code == 202
    assert client.delete(f"/v2/{repo}/blobs/{layer_digest}").status_code == 202
    push_blob(client, repo, image.layers[0])
    push_manifest(client, repo, "v1", image.manifest, OCI_MANIFEST)
    assert client.get(f"/v2/{repo}/manifests/v1").content == image.manifest
    assert client.get(f"/v2/{repo}/blobs/{layer_digest}").content == image.layers[0]


def test_manifest_referencing_a_deleted_blob_is_rejected(client: httpx.Client, repo: str) -> None:
    image = push_image(client, repo)
    assert client.delete(f"/v2/{repo}/blobs/{sha256(image.layers[0])}").status_code == 202
    response = client.put(
        f"/v2/{repo}/manifests/again", content=image.manifest, headers={"Content-Type": OCI_MANIFEST}
    )
    assert_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
