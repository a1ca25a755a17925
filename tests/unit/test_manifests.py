from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.manifests import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    MAX_DEPTH,
    MAX_SIZE,
    OCI_INDEX,
    OCI_MANIFEST,
    accepted_types,
    parse_manifest,
)

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def image(media_type: str | None = OCI_MANIFEST, **extra: Any) -> bytes:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": D1, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": D2, "size": 3}],
        **extra,
    }
    if media_type:
        doc["mediaType"] = media_type
    return json.dumps(doc).encode()


def test_image_manifest_lists_config_and_layers() -> None:
    parsed = parse_manifest(image(), OCI_MANIFEST)
    assert [d.digest for d in parsed.blobs] == [D1, D2]
    assert parsed.artifact_type == "application/vnd.oci.image.config.v1+json"
    assert not parsed.is_index


def test_media_type_comes_from_header_when_body_has_none() -> None:
    assert parse_manifest(image(None), DOCKER_MANIFEST).media_type == DOCKER_MANIFEST


def test_index_children_and_platforms() -> None:
    doc = {
        "schemaVersion": 2,
        "mediaType": DOCKER_LIST,
        "manifests": [
            {
                "mediaType": DOCKER_MANIFEST,
                "digest": D1,
                "size": 5,
                "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
            },
        ],
    }
    parsed = parse_manifest(json.dumps(doc).encode(), DOCKER_LIST)
    assert parsed.is_index
    assert parsed.children[0].platform is not None
    assert parsed.children[0].platform.variant == "v8"


def test_subject_and_artifact_type() -> None:
    subject = {"mediaType": OCI_MANIFEST, "digest": D2, "size": 10}
    parsed = parse_manifest(image(artifactType="application/x.sig", subject=subject), OCI_MANIFEST)
    assert parsed.subject is not None and parsed.subject.digest == D2
    assert parsed.artifact_type == "application/x.sig"


def test_foreign_layers_are_not_required() -> None:
    layer = {
        "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "digest": D2,
        "size": 1,
        "urls": ["https://example.invalid/layer"],
    }
    doc = json.loads(image(DOCKER_MANIFEST))
    doc["layers"] = [layer]
    parsed = parse_manifest(json.dumps(doc).encode(), DOCKER_MANIFEST)
    assert [d.digest for d in parsed.blobs] == [D1]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", OCI_MANIFEST),
        (b"[]", OCI_MANIFEST),
        (image(OCI_MANIFEST), DOCKER_MANIFEST),  # body and header disagree
        (image(schemaVersion=1), OCI_MANIFEST),
        (image("application/vnd.docker.distribution.manifest.v1+prettyjws"), None),
        (image("text/plain"), None),
        (
            json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {}, "layers": []}).encode(),
            None,
        ),
        (
            json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"digest": "x"}]}).encode(),
            None,
        ),
        (image(layers=[{"mediaType": "a", "digest": D1, "size": -1}]), OCI_MANIFEST),
    ],
)
def test_invalid_manifests(content: bytes, content_type: str | None) -> None:
    with pytest.raises(RegistryError) as info:
        parse_manifest(content, content_type)
    assert info.value.code is ErrorCode.MANIFEST_INVALID


def test_accept_negotiation() -> None:
    assert accepted_types([]) is None
    assert accepted_types(["*/*"]) is None
    assert accepted_types(["application/json"]) is None
    assert accepted_types([f"{OCI_MANIFEST}, {OCI_INDEX};q=0.9"]) == {OCI_MANIFEST, OCI_INDEX}


# -- hostile input: every JSON value is a manifest or MANIFEST_INVALID, never another exception ------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from([D1, OCI_MANIFEST, OCI_INDEX, DOCKER_LIST]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
FIELDS = [
    "schemaVersion",
    "mediaType",
    "config",
    "layers",
    "manifests",
    "subject",
    "annotations",
    "artifactType",
]


@settings(max_examples=500, derandomize=True, database=None, deadline=None)
@given(
    replaced=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=3),
    content_type=st.sampled_from([None, OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, "application/json"]),
)
def test_any_field_of_any_json_type_is_a_manifest_or_manifest_invalid(
    replaced: dict[str, Any], content_type: str | None
) -> None:
    doc = {**json.loads(image()), **replaced}
    try:
        parse_manifest(json.dumps(doc).encode(), content_type)
    except RegistryError as exc:
        assert exc.code is ErrorCode.MANIFEST_INVALID


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 50_000])
def test_nesting_deeper_than_the_limit_is_manifest_invalid(depth: int) -> None:
    body = b'{"schemaVersion":2,"x":' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(RegistryError) as info:
        parse_manifest(body, OCI_MANIFEST)
    assert info.value.code is ErrorCode.MANIFEST_INVALID


def test_nesting_up_to_the_limit_is_accepted() -> None:
    deep: Any = []
    for _ in range(MAX_DEPTH - 2):  # the manifest object and its "x" field take two levels
        deep = [deep]
    assert parse_manifest(image(x=deep), OCI_MANIFEST).media_type == OCI_MANIFEST


@pytest.mark.parametrize("size", [MAX_SIZE + 1, 10**30, -1])
def test_sizes_outside_int64_are_manifest_invalid(size: int) -> None:
    doc = json.loads(image())
    doc["layers"][0]["size"] = size
    with pytest.raises(RegistryError) as info:
        parse_manifest(json.dumps(doc).encode(), OCI_MANIFEST)
    assert info.value.code is ErrorCode.MANIFEST_INVALID


def test_config_and_layers_may_not_add_up_past_int64() -> None:
    doc = json.loads(image())
    doc["config"]["size"] = MAX_SIZE
    with pytest.raises(RegistryError):
        parse_manifest(json.dumps(doc).encode(), OCI_MANIFEST)
    doc["layers"][0]["size"] = 0
    assert parse_manifest(json.dumps(doc).encode(), OCI_MANIFEST).blobs[0].size == MAX_SIZE


def test_a_small_manifest_is_parsed_once_and_a_big_one_or_a_bad_one_every_time() -> None:
    """The parse cache (manifests.py) keys on the bytes and the Content-Type and holds only
    successes of at most CACHED_BYTES: memory stays bounded, and errors are never remembered."""
    from dockyard.registry.manifests import CACHED_BYTES

    small = image()
    assert parse_manifest(small, OCI_MANIFEST) is parse_manifest(bytes(small), OCI_MANIFEST)
    with pytest.raises(RegistryError):  # the same bytes under another declared type: checked anew
        parse_manifest(small, DOCKER_MANIFEST)
    big = image(annotations={"pad": "x" * CACHED_BYTES})
    assert len(big) > CACHED_BYTES
    first = parse_manifest(big, OCI_MANIFEST)
    assert first == parse_manifest(big, OCI_MANIFEST) and first is not parse_manifest(big, OCI_MANIFEST)
    for _ in range(2):
        with pytest.raises(RegistryError):
            parse_manifest(b"{not json", OCI_MANIFEST)
