from __future__ import annotations

import pytest

from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.reference import canonical_name, parse_digest, validate_tag


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("rockylinux", "library/rockylinux"),
        ("library/rockylinux", "library/rockylinux"),
        ("ometraining/my-omeropy-image", "ometraining/my-omeropy-image"),
        ("a/b/c", "a/b/c"),
        ("a__b/c.d", "a__b/c.d"),
        ("a---b", "library/a---b"),
    ],
)
def test_valid_names(name: str, canonical: str) -> None:
    assert canonical_name(name) == canonical


@pytest.mark.parametrize(
    "name",
    [
        "UPPER/case",
        "a/../b",
        "..",
        "a//b",
        "-a",
        "a-",
        "a/",
        "/a",
        "a/.b",
        "%2e%2e",
        "a___b",
        "ａbc",
        "a" * 256,
        "a/" + "b" * 254,
        "",
    ],
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(RegistryError) as info:
        canonical_name(name)
    assert info.value.code is ErrorCode.NAME_INVALID


@pytest.mark.parametrize("tag", ["latest", "0.1", "v1.2.3-rc_1", "_x", "A" * 128])
def test_valid_tags(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize("tag", ["-bad", ".bad", "a" * 129, "has space", "a/b", ""])
def test_invalid_tags(tag: str) -> None:
    with pytest.raises(RegistryError) as info:
        validate_tag(tag)
    assert info.value.code is ErrorCode.TAG_INVALID


@pytest.mark.parametrize(
    "digest",
    ["sha256:" + "a" * 63, "sha256:" + "A" * 64, "md5:" + "a" * 32, "sha256", "sha512:" + "a" * 64, "nope"],
)
def test_invalid_digests(digest: str) -> None:
    with pytest.raises(RegistryError) as info:
        parse_digest(digest)
    assert info.value.code is ErrorCode.DIGEST_INVALID


def test_sha512_digests_parse() -> None:
    assert parse_digest("sha512:" + "0" * 128).algorithm == "sha512"


@pytest.mark.parametrize("value", ["alice/app\n", "alice/app\nx"])
def test_a_trailing_newline_is_not_part_of_a_valid_name(value: str) -> None:
    with pytest.raises(RegistryError):
        canonical_name(value)


def test_a_trailing_newline_is_not_part_of_a_valid_tag_or_digest() -> None:
    with pytest.raises(RegistryError):
        validate_tag("latest\n")
    with pytest.raises(RegistryError):
        parse_digest("sha256:" + "a" * 64 + "\n")
