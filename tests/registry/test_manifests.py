"""Pushing and pulling manifests (spec: "Pulling manifests", "Pushing Manifests", end-3, end-7).

Covers the four manifest media types docker and OCI clients push, content negotiation,
validation errors, the 4 MiB size floor and OCI 1.1 ``subject`` / artifacts.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.registry.helpers import (
    ABSENT_DIGEST,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    EMPTY_DIGEST,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    assert_error,
    descriptor,
    image_manifest,
    index_manifest,
    path_of,
    push_artifact,
    push_blob,
    push_image,
    push_manifest,
    put_manifest,
    random_layer,
    sha256,
    sha512,
    to_json,
    unique_repo,
)

FOUR_MIB = 4 * 1024 * 1024


def build(client: httpx.Client, repo: str, media_type: str) -> bytes:
    """A manifest of ``media_type`` whose referenced blobs or children are already pushed."""
    if media_type in (OCI_MANIFEST, DOCKER_MANIFEST):
        config, layer = to_json({"os": "linux", "n": random_layer(4).hex()}), random_layer(100)
        push_blob(client, repo, config)
        push_blob(client, repo, layer)
        return image_manifest(config, [layer], media_type=media_type)
    child_type = OCI_MANIFEST if media_type == OCI_INDEX else DOCKER_MANIFEST
    children = [push_image(client, repo, media_type=child_type) for _ in range(2)]
    return index_manifest(children, media_type=media_type)


def assert_manifest_headers(response: httpx.Response, body: bytes, media_type: str) -> None:
    assert response.headers["content-type"] == media_type
    assert response.headers["content-length"] == str(len(body))
    assert response.headers["docker-content-digest"] == sha256(body)
    assert sha256(body) in response.headers["etag"]


def padded_manifest(client: httpx.Client, repo: str, size: int) -> bytes:
    """An OCI manifest of exactly ``size`` bytes, padded with an annotation."""
    config, layer = to_json({"os": "linux"}), random_layer(10)
    push_blob(client, repo, config)
    push_blob(client, repo, layer)
    base = len(image_manifest(config, [layer], annotations={"pad": ""}))
    body = image_manifest(config, [layer], annotations={"pad": "x" * (size - base)})
    assert len(body) == size
    return body


# Push and pull each media type -------------------------------------------------------------------

ALL_TYPES = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST]


@pytest.mark.parametrize("media_type", ALL_TYPES)
def test_put_by_tag_then_get_by_tag(client: httpx.Client, repo: str, media_type: str) -> None:
    body = build(client, repo, media_type)
    response = put_manifest(client, repo, "v1", body, media_type)
    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == sha256(body)
    assert response.headers["location"]
    pulled = client.get(f"/v2/{repo}/manifests/v1", headers={"Accept": media_type})
    assert pulled.status_code == 200
    assert pulled.content == body
    assert_manifest_headers(pulled, body, media_type)


@pytest.mark.parametrize("media_type", ALL_TYPES)
def test_put_by_digest_then_get_by_digest(client: httpx.Client, repo: str, media_type: str) -> None:
    body = build(client, repo, media_type)
    digest = sha256(body)
    response = put_manifest(client, repo, digest, body, media_type)
    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == digest
    assert path_of(response.headers["location"]) == f"/v2/{repo}/manifests/{digest}"
    pulled = client.get(f"/v2/{repo}/manifests/{digest}", headers={"Accept": media_type})
    assert pulled.status_code == 200
    assert pulled.content == body
    assert_manifest_headers(pulled, body, media_type)


def test_manifest_without_layers_is_accepted(client: httpx.Client, repo: str) -> None:
    config = to_json({"os": "linux"})
    push_blob(client, repo, config)
    body = image_manifest(config, [])
    push_manifest(client, repo, "empty", body, OCI_MANIFEST)
    assert client.get(f"/v2/{repo}/manifests/empty").content == body


def test_nested_index_is_accepted(client: httpx.Client, repo: str) -> None:
    inner = index_manifest([push_image(client, repo)])
    inner_digest = push_manifest(client, repo, sha256(inner), inner, OCI_INDEX)
    outer = to_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor(OCI_INDEX, inner)]})
    push_manifest(client, repo, "nested", outer, OCI_INDEX)
    assert (
        json.loads(client.get(f"/v2/{repo}/manifests/nested").content)["manifests"][0]["digest"]
        == inner_digest
    )


def test_pushing_the_same_manifest_twice_is_idempotent(client: httpx.Client, repo: str) -> None:
    body = build(client, repo, OCI_MANIFEST)
    push_manifest(client, repo, "v1", body, OCI_MANIFEST)
    push_manifest(client, repo, "v1", body, OCI_MANIFEST)
    push_manifest(client, repo, sha256(body), body, OCI_MANIFEST)
    assert client.get(f"/v2/{repo}/manifests/v1").content == body


def test_put_and_get_by_sha512_digest(client: httpx.Client, repo: str) -> None:
    body = build(client, repo, OCI_MANIFEST)
    digest = sha512(body)
    response = put_manifest(client, repo, digest, body, OCI_MANIFEST)
    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == digest
    pulled = client.get(f"/v2/{repo}/manifests/{digest}")
    assert pulled.status_code == 200
    assert pulled.content == body


def test_location_of_pushed_manifest_is_pullable(client: httpx.Client, repo: str) -> None:
    body = build(client, repo, OCI_MANIFEST)
    response = put_manifest(client, repo, "latest", body, OCI_MANIFEST)
    pulled = client.get(response.headers["location"], headers={"Accept": OCI_MANIFEST})
    assert pulled.status_code == 200
    assert pulled.content == body


def test_manifest_bytes_are_stored_verbatim(client: httpx.Client, repo: str) -> None:
    # Odd whitespace and key order: any re-serialisation would change the digest.
    config, layer = to_json({"os": "linux"}), random_layer(10)
    push_blob(client, repo, config)
    push_blob(client, repo, layer)
    document = json.loads(image_manifest(config, [layer]))
    body = (json.dumps(document, separators=(" ,", ":  "), sort_keys=True) + "\n\n").encode()
    digest = push_manifest(client, repo, "odd", body, OCI_MANIFEST)
    assert client.get(f"/v2/{repo}/manifests/odd").content == body
    assert client.get(f"/v2/{repo}/manifests/{digest}").content == body


@pytest.mark.parametrize("reference", ["tag", "digest"])
def test_head_manifest_has_headers_and_no_body(client: httpx.Client, repo: str, reference: str) -> None:
    body = build(client, repo, OCI_MANIFEST)
    push_manifest(client, repo, "v1", body, OCI_MANIFEST)
    ref = "v1" if reference == "tag" else sha256(body)
    response = client.head(f"/v2/{repo}/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
    assert response.status_code == 200
    assert_manifest_headers(response, body, OCI_MANIFEST)
    assert response.content == b""  # and nothing on the wire either: test_real_server.py


def test_put_with_several_tag_parameters_tags_all(client: httpx.Client, repo: str) -> None:
    body = build(client, repo, OCI_MANIFEST)
    digest = sha256(body)
    response = client.put(
        f"/v2/{repo}/manifests/{digest}?tag=alpha&tag=beta&tag=gamma",
        content=body,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == digest
    for tag in ("alpha", "beta", "gamma"):
        pulled = client.get(f"/v2/{repo}/manifests/{tag}")
        assert pulled.status_code == 200, tag
        assert pulled.headers["docker-content-digest"] == digest
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["alpha", "beta", "gamma"]


def test_retagging_moves_the_tag_and_keeps_the_old_manifest(client: httpx.Client, repo: str) -> None:
    old = push_image(client, repo, "latest")
    new = push_image(client, repo, "latest")
    assert client.get(f"/v2/{repo}/manifests/latest").headers["docker-content-digest"] == new.digest
    assert client.get(f"/v2/{repo}/manifests/{old.digest}").content == old.manifest


def test_manifest_is_scoped_to_its_repository(client: httpx.Client, repo: str) -> None:
    image = push_image(client, repo, "v1")
    other = unique_repo()
    push_image(client, other, "v1")
    response = client.get(f"/v2/{other}/manifests/{image.digest}")
    assert_error(response, 404, "MANIFEST_UNKNOWN")


# Content negotiation -----------------------------------------------------------------------------


@pytest.mark.parametrize("media_type", ALL_TYPES)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_accept_listing_stored_type_returns_it(
    client: httpx.Client, repo: str, media_type: str, method: str
) -> None:
    body = build(client, repo, media_type)
    push_manifest(client, repo, "v1", body, media_type)
    accept = ", ".join([*(t for t in ALL_TYPES if t != media_type), media_type])
    response = client.request(method, f"/v2/{repo}/manifests/v1", headers={"Accept": accept})
    assert response.status_code == 200
    assert_manifest_headers(response, body, media_type)


def test_wildcard_accept_returns_stored_type(client: httpx.Client, repo: str) -> None:
    body = build(client, repo, DOCKER_MANIFEST)
    push_manifest(client, repo, "v1", body, DOCKER_MANIFEST)
    response = client.get(f"/v2/{repo}/manifests/v1", headers={"Accept": "*/*"})
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["content-type"] == DOCKER_MANIFEST


def test_content_type_parameters_are_ignored_on_put(client: httpx.Client, repo: str) -> None:
    body = build(client, repo, OCI_MANIFEST)
    response = put_manifest(client, repo, "v1", body, f"{OCI_MANIFEST}; charset=utf-8")
    assert response.status_code == 201, response.text
    assert client.get(f"/v2/{repo}/manifests/v1").headers["content-type"] == OCI_MANIFEST


def test_manifest_without_media_type_field_uses_content_type(client: httpx.Client, repo: str) -> None:
    document = json.loads(build(client, repo, OCI_MANIFEST))
    del document["mediaType"]
    body = to_json(document)
    push_manifest(client, repo, "v1", body, OCI_MANIFEST)
    response = client.get(f"/v2/{repo}/manifests/v1")
    assert response.content == body
    assert response.headers["content-type"] == OCI_MANIFEST


# Validation --------------------------------------------------------------------------------------


def assert_not_stored(client: httpx.Client, repo: str, tag: str, body: bytes) -> None:
    assert client.get(f"/v2/{repo}/manifests/{tag}").status_code == 404
    assert client.get(f"/v2/{repo}/manifests/{sha256(body)}").status_code == 404


def test_missing_layer_is_manifest_blob_unknown(client: httpx.Client, repo: str) -> None:
    config = to_json({"os": "linux"})
    push_blob(client, repo, config)
    body = image_manifest(config, [random_layer(50)])
    assert_error(put_manifest(client, repo, "v1", body, OCI_MANIFEST), 400, "MANIFEST_BLOB_UNKNOWN")
    assert_not_stored(client, repo, "v1", body)


def test_missing_config_is_manifest_blob_unknown(client: httpx.Client, repo: str) -> None:
    layer = random_layer(50)
    push_blob(client, repo, layer)
    body = image_manifest(to_json({"never": "pushed"}), [layer])
    assert_error(put_manifest(client, repo, "v1", body, OCI_MANIFEST), 400, "MANIFEST_BLOB_UNKNOWN")
    assert_not_stored(client, repo, "v1", body)


def test_layer_only_in_another_repository_is_manifest_blob_unknown(client: httpx.Client, repo: str) -> None:
    config, layer = to_json({"os": "linux"}), random_layer(50)
    push_blob(client, repo, config)
    push_blob(client, unique_repo(), layer)
    body = image_manifest(config, [layer])
    assert_error(put_manifest(client, repo, "v1", body, OCI_MANIFEST), 400, "MANIFEST_BLOB_UNKNOWN")


@pytest.mark.parametrize("media_type", [OCI_INDEX, DOCKER_LIST])
def test_index_with_missing_child_is_rejected(client: httpx.Client, repo: str, media_type: str) -> None:
    child_type = OCI_MANIFEST if media_type == OCI_INDEX else DOCKER_MANIFEST
    present = push_image(client, repo, media_type=child_type)
    absent = {"mediaType": child_type, "digest": ABSENT_DIGEST, "size": 123}
    document = json.loads(index_manifest([present], media_type=media_type))
    document["manifests"].append(absent)
    body = to_json(document)
    response = put_manifest(client, repo, "multi", body, media_type)
    assert response.status_code >= 400
    assert_error(response, (400, 404), "MANIFEST_UNKNOWN", "MANIFEST_BLOB_UNKNOWN")
    assert_not_stored(client, repo, "multi", body)


INVALID_BODIES = {
    "not-json": b"{this is not json",
    "json-array": b"[]",
    "schema-version-1": b'{"schemaVersion": 1, "mediaType": "' + OCI_MANIFEST.encode() + b'"}',
    "layers-not-a-list": b'{"schemaVersion": 2, "mediaType": "'
    + OCI_MANIFEST.encode()
    + b'", "layers": "x"}',
    "empty": b"",
}


@pytest.mark.parametrize("body", INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
def test_invalid_manifest_is_manifest_invalid(client: httpx.Client, repo: str, body: bytes) -> None:
    push_blob(client, repo, b"repo exists")
    assert_error(put_manifest(client, repo, "bad", body, OCI_MANIFEST), 400, "MANIFEST_INVALID")
    assert client.get(f"/v2/{repo}/manifests/bad").status_code == 404


def test_media_type_field_disagreeing_with_content_type_is_invalid(client: httpx.Client, repo: str) -> None:
    body = build(client, repo, OCI_MANIFEST)
    response = put_manifest(client, repo, "v1", body, DOCKER_MANIFEST)
    assert_error(response, 400, "MANIFEST_INVALID")
    assert_not_stored(client, repo, "v1", body)


def test_manifest_of_exactly_4_mib_is_accepted(client: httpx.Client, repo: str) -> None:
    body = padded_manifest(client, repo, FOUR_MIB)
    push_manifest(client, repo, "big", body, OCI_MANIFEST)
    assert client.get(f"/v2/{repo}/manifests/big").content == body


def test_manifest_over_4_mib_is_rejected_and_not_stored(client: httpx.Client, repo: str) -> None:
    body = padded_manifest(client, repo, FOUR_MIB + 1)
    response = put_manifest(client, repo, "huge", body, OCI_MANIFEST)
    assert_error(response, (413, 400), "MANIFEST_INVALID", "SIZE_INVALID", "MANIFEST_TOO_BIG")
    assert_not_stored(client, repo, "huge", body)


def test_put_by_digest_with_other_body_is_digest_invalid(client: httpx.Client, repo: str) -> None:
    body = build(client, repo, OCI_MANIFEST)
    wrong = sha256(body + b" ")
    assert_error(put_manifest(client, repo, wrong, body, OCI_MANIFEST), 400, "DIGEST_INVALID")
    assert client.get(f"/v2/{repo}/manifests/{wrong}").status_code == 404
    assert client.get(f"/v2/{repo}/manifests/{sha256(body)}").status_code == 404


# Subject and artifacts (OCI 1.1) -----------------------------------------------------------------


def test_manifest_with_subject_gets_oci_subject_header(client: httpx.Client, repo: str) -> None:
    subject = push_image(client, repo, "v1")
    body, response = push_artifact(client, repo, subject, "application/vnd.example.sbom.v1")
    assert response.headers["oci-subject"] == subject.digest
    assert response.headers["docker-content-digest"] == sha256(body)


def test_subject_may_be_pushed_after_its_referrer(client: httpx.Client, repo: str) -> None:
    subject = push_image(client, unique_repo())  # exists elsewhere, not in ``repo``
    _, response = push_artifact(client, repo, subject, "application/vnd.example.sig.v1")
    assert response.status_code == 201
    assert response.headers["oci-subject"] == subject.digest


def test_index_with_subject_gets_oci_subject_header(client: httpx.Client, repo: str) -> None:
    subject = push_image(client, repo, "v1")
    child = push_image(client, repo)
    body = index_manifest([child], subject=descriptor(OCI_MANIFEST, subject.manifest))
    response = put_manifest(client, repo, sha256(body), body, OCI_INDEX)
    assert response.status_code == 201, response.text
    assert response.headers["oci-subject"] == subject.digest


def test_artifact_with_empty_config_round_trips(client: httpx.Client, repo: str) -> None:
    body, response = push_artifact(client, repo, None, "application/vnd.example.thing.v1")
    assert "oci-subject" not in response.headers
    document = json.loads(body)
    assert document["config"] == {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2}
    pulled = client.get(f"/v2/{repo}/manifests/{sha256(body)}")
    assert pulled.status_code == 200
    assert pulled.content == body
    assert pulled.headers["content-type"] == OCI_MANIFEST
    assert client.get(f"/v2/{repo}/blobs/{EMPTY_DIGEST}").content == b"{}"


# Unknown manifests -------------------------------------------------------------------------------


def test_unknown_tag_is_manifest_unknown(client: httpx.Client, repo: str) -> None:
    push_image(client, repo, "v1")
    assert_error(client.get(f"/v2/{repo}/manifests/nope"), 404, "MANIFEST_UNKNOWN")


def test_unknown_digest_is_manifest_unknown(client: httpx.Client, repo: str) -> None:
    push_image(client, repo, "v1")
    assert_error(client.get(f"/v2/{repo}/manifests/{ABSENT_DIGEST}"), 404, "MANIFEST_UNKNOWN")


def test_unknown_repository_manifest_is_404(client: httpx.Client) -> None:
    response = client.get(f"/v2/{unique_repo()}/manifests/latest")
    assert_error(response, 404, "NAME_UNKNOWN", "MANIFEST_UNKNOWN")


def test_head_unknown_manifest_is_404_without_body(client: httpx.Client, repo: str) -> None:
    push_image(client, repo, "v1")
    response = client.head(f"/v2/{repo}/manifests/nope")
    assert (response.status_code, response.content) == (404, b"")  # the wire: test_real_server.py


# Tags on PUT -------------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["-bad", ".bad", "a" * 129, "bad:tag", "bad+tag"])
def test_invalid_tag_on_put_is_rejected(client: httpx.Client, repo: str, tag: str) -> None:
    body = build(client, repo, OCI_MANIFEST)
    response = put_manifest(client, repo, tag, body, OCI_MANIFEST)
    assert_error(response, 400, "TAG_INVALID", "MANIFEST_INVALID", "DIGEST_INVALID")
    assert client.get(f"/v2/{repo}/manifests/{sha256(body)}").status_code == 404


def test_invalid_tag_query_parameter_is_rejected(client: httpx.Client, repo: str) -> None:
    body = build(client, repo, OCI_MANIFEST)
    digest = sha256(body)
    response = client.put(
        f"/v2/{repo}/manifests/{digest}?tag=good&tag=-bad",
        content=body,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert_error(response, 400, "TAG_INVALID", "MANIFEST_INVALID")
    assert client.get(f"/v2/{repo}/manifests/good").status_code == 404
    assert client.get(f"/v2/{repo}/manifests/{digest}").status_code == 404


@pytest.mark.parametrize("tag", ["a" * 128, "_private", "V1.2.3-rc_1", "0"])
def test_valid_tag_edge_cases_are_accepted(client: httpx.Client, repo: str, tag: str) -> None:
    body = build(client, repo, OCI_MANIFEST)
    push_manifest(client, repo, tag, body, OCI_MANIFEST)
    assert client.get(f"/v2/{repo}/manifests/{tag}").content == body
