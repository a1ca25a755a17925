"""Repository names, tags and digests, built from the spec's named grammar parts.

    name      := component ("/" component)*          (total length <= 255)
    component := alnum+ (separator alnum+)*
    separator := "." | "_" | "__" | "-"+
    tag       := [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
    digest    := algorithm ":" encoded
    algorithm := [a-z0-9]+ ([+._-] [a-z0-9]+)*
    encoded   := [a-zA-Z0-9=_-]+  (sha256: 64 hex, sha512: 128 hex)

A one-component name is an official image: ``rockylinux`` is ``library/rockylinux``.
"""

from __future__ import annotations

import re

from dockyard.digests import Digest, InvalidDigest
from dockyard.registry.errors import ErrorCode, RegistryError

ALNUM = r"[a-z0-9]+"
SEPARATOR = r"(?:[._]|__|[-]+)"
COMPONENT = rf"{ALNUM}(?:{SEPARATOR}{ALNUM})*"
NAME = rf"{COMPONENT}(?:/{COMPONENT})*"
TAG = r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}"
ALGORITHM = r"[a-z0-9]+(?:[+._-][a-z0-9]+)*"
ENCODED = r"[a-zA-Z0-9=_-]+"
DIGEST = rf"{ALGORITHM}:{ENCODED}"

NAME_RE = re.compile(NAME)
TAG_RE = re.compile(TAG)
DIGEST_RE = re.compile(DIGEST)
MAX_NAME_LENGTH = 255
OFFICIAL_NAMESPACE = "library"


def canonical_name(name: str) -> str:
    """Validate a repository name and map official images to ``library/``."""
    if len(name) > MAX_NAME_LENGTH or not NAME_RE.fullmatch(name):
        raise RegistryError(ErrorCode.NAME_INVALID, {"name": name})
    if "/" not in name:
        name = f"{OFFICIAL_NAMESPACE}/{name}"
        if len(name) > MAX_NAME_LENGTH:
            raise RegistryError(ErrorCode.NAME_INVALID, {"name": name})
    return name


def validate_tag(tag: str) -> str:
    if not TAG_RE.fullmatch(tag):
        raise RegistryError(ErrorCode.TAG_INVALID, {"tag": tag}, message="invalid tag")
    return tag


def parse_digest(value: str) -> Digest:
    """Parse a digest we can verify; anything else is DIGEST_INVALID."""
    if not DIGEST_RE.fullmatch(value):
        raise RegistryError(ErrorCode.DIGEST_INVALID, {"digest": value}, message="invalid digest")
    try:
        return Digest.parse(value)
    except InvalidDigest as exc:
        raise RegistryError(ErrorCode.DIGEST_INVALID, {"digest": value}, message=str(exc)) from None


def lookup_reference(reference: str) -> Digest | str | None:
    """A manifest reference to look up: a digest, a tag, or None when it can name nothing."""
    if is_digest(reference):
        try:
            return parse_digest(reference)
        except RegistryError:
            return None
    return reference if TAG_RE.fullmatch(reference) else None


def is_digest(reference: str) -> bool:
    return ":" in reference
