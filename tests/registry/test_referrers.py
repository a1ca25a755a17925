"""The referrers API (spec: "Listing Referrers", end-12a/12b; conformance 03_discovery referrers)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.registry.helpers import (
    ABSENT_DIGEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Image,
    descriptor,
    index_manifest,
    push_artifact,
    push_blob,
    push_image,
    push_manifest,
    sha256,
    to_json,
    unique_repo,
)

SBOM = "application/vnd.example.sbom.v1"
SIGNATURE = "application/vnd.example.signature.v1"


def referrers(client: httpx.Client, repo: str, digest: str, **params: str) -> httpx.Response:
    response = client.get(f"/v2/{repo}/referrers/{digest}", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == OCI_INDEX
    document = response.json()
    assert document["schemaVersion"] == 2
    assert document["mediaType"] == OCI_INDEX
    assert isinstance(document["manifests"], list)
    return response


def by_digest(response: httpx.Response) -> dict[str, dict]:
    return {entry["digest"]: entry for entry in response.json()["manifests"]}


@pytest.fixture
def subject(client: httpx.Client, repo: str) -> Image:
    return push_image(client, repo, "v1")


def test_referrers_lists_artifacts_with_type_and_annotations(
    client: httpx.Client, repo: str, subject: Image
) -> None:
    sbom, _ = push_artifact(client, repo, subject, SBOM, annotations={"org.example.format": "json"})
    sig, _ = push_artifact(client, repo, subject, SIGNATURE, annotations={"org.example.key": "abcd"})
    entries = by_digest(referrers(client, repo, subject.digest))
    assert set(entries) == {sha256(sbom), sha256(sig)}
    assert entries[sha256(sbom)] == {
        "mediaType": OCI_MANIFEST,
        "digest": sha256(sbom),
        "size": len(sbom),
        "artifactType": SBOM,
        "annotations": {"org.example.format": "json"},
    }
    assert entries[sha256(sig)]["artifactType"] == SIGNATURE
    assert entries[sha256(sig)]["annotations"] == {"org.example.key": "abcd"}


def test_manifest_without_artifact_type_uses_config_media_type(
    client: httpx.Client, repo: str, subject: Image
) -> None:
    config_type = "application/vnd.example.config.v1+json"
    image = push_image(
        client, repo, config_type=config_type, subject=descriptor(OCI_MANIFEST, subject.manifest)
    )
    entry = by_digest(referrers(client, repo, subject.digest))[image.digest]
    assert entry["artifactType"] == config_type
    assert entry["mediaType"] == OCI_MANIFEST
    assert entry["size"] == len(image.manifest)


def test_index_referrer_without_artifact_type_omits_it(
    client: httpx.Client, repo: str, subject: Image
) -> None:
    child = push_image(client, repo)
    body = index_manifest(
        [child],
        subject=descriptor(OCI_MANIFEST, subject.manifest),
        annotations={"org.example.kind": "bundle"},
    )
    digest = push_manifest(client, repo, sha256(body), body, OCI_INDEX)
    entry = by_digest(referrers(client, repo, subject.digest))[digest]
    assert entry["mediaType"] == OCI_INDEX
    assert "artifactType" not in entry
    assert entry["annotations"] == {"org.example.kind": "bundle"}


def test_index_referrer_with_artifact_type_keeps_it(client: httpx.Client, repo: str, subject: Image) -> None:
    child = push_image(client, repo)
    body = index_manifest([child], subject=descriptor(OCI_MANIFEST, subject.manifest), artifactType=SBOM)
    digest = push_manifest(client, repo, sha256(body), body, OCI_INDEX)
    assert by_digest(referrers(client, repo, subject.digest))[digest]["artifactType"] == SBOM


def test_referrers_of_unknown_digest_is_empty_index(client: httpx.Client, repo: str, subject: Image) -> None:
    response = referrers(client, repo, ABSENT_DIGEST)
    assert response.json()["manifests"] == []


def test_referrers_of_manifest_without_referrers_is_empty(
    client: httpx.Client, repo: str, subject: Image
) -> None:
    assert referrers(client, repo, subject.digest).json()["manifests"] == []


def test_referrers_filter_by_artifact_type(client: httpx.Client, repo: str, subject: Image) -> None:
    sbom, _ = push_artifact(client, repo, subject, SBOM)
    push_artifact(client, repo, subject, SIGNATURE)
    response = referrers(client, repo, subject.digest, artifactType=SBOM)
    assert response.headers["oci-filters-applied"] == "artifactType"
    assert [entry["digest"] for entry in response.json()["manifests"]] == [sha256(sbom)]


def test_referrers_filter_with_no_match_is_empty(client: httpx.Client, repo: str, subject: Image) -> None:
    push_artifact(client, repo, subject, SBOM)
    response = referrers(client, repo, subject.digest, artifactType="application/vnd.example.none")
    assert response.headers["oci-filters-applied"] == "artifactType"
    assert response.json()["manifests"] == []


def test_unfiltered_referrers_have_no_filters_header(client: httpx.Client, repo: str, subject: Image) -> None:
    push_artifact(client, repo, subject, SBOM)
    assert "oci-filters-applied" not in referrers(client, repo, subject.digest).headers


def test_referrer_pushed_before_its_subject_is_listed(client: httpx.Client, repo: str) -> None:
    config = to_json({"os": "linux", "later": True})
    future = Image(repo, to_json({"placeholder": repo}), "", OCI_MANIFEST, config)
    future.digest = sha256(future.manifest)
    body, _ = push_artifact(client, repo, future, SBOM)
    assert list(by_digest(referrers(client, repo, future.digest))) == [sha256(body)]


def test_referrers_are_scoped_to_the_repository(client: httpx.Client, repo: str, subject: Image) -> None:
    other = unique_repo()
    push_blob(client, other, b"{}")
    body, _ = push_artifact(client, other, subject, SBOM)
    assert referrers(client, repo, subject.digest).json()["manifests"] == []
    assert list(by_digest(referrers(client, other, subject.digest))) == [sha256(body)]


def test_deleted_referrer_disappears(client: httpx.Client, repo: str, subject: Image) -> None:
    body, _ = push_artifact(client, repo, subject, SBOM)
    assert client.delete(f"/v2/{repo}/manifests/{sha256(body)}").status_code == 202
    assert referrers(client, repo, subject.digest).json()["manifests"] == []


def test_referrers_with_invalid_digest_is_400(client: httpx.Client, repo: str, subject: Image) -> None:
    response = client.get(f"/v2/{repo}/referrers/sha256:not-a-digest")
    assert response.status_code == 400


def test_referrers_response_is_a_valid_pullable_index(
    client: httpx.Client, repo: str, subject: Image
) -> None:
    push_artifact(client, repo, subject, SBOM)
    document = json.loads(referrers(client, repo, subject.digest).content)
    for entry in document["manifests"]:
        assert client.head(f"/v2/{repo}/manifests/{entry['digest']}").status_code == 200
