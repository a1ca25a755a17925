"""Tags, digests and references, built from the spec's named grammar parts; repository names are
``dockyard.names``' (one grammar for every layer), mapped here onto the protocol's NAME_INVALID.

    tag       := [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
    digest    := algorithm ":" encoded
    algorithm := [a-z0-9]+ ([+._-] [a-z0-9]+)*
    encoded   := [a-zA-Z0-9=_-]+  (sha256: 64 hex, sha512: 128 hex)
"""

from __future__ import annotations

import re

from dockyard.digests import Digest, InvalidDigest
from dockyard.names import InvalidName, canonical
from dockyard.registry.errors import ErrorCode, RegistryError

TAG = r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}"
ALGORITHM = r"[a-z0-9]+(?:[+._-][a-z0-9]+)*"
ENCODED = r"[a-zA-Z0-9=_-]+"
DIGEST = rf"{ALGORITHM}:{ENCODED}"

TAG_RE = re.compile(TAG)
DIGEST_RE = re.compile(DIGEST)


def canonical_name(name: str) -> str:
    """Validate a repository name and map official images to ``library/``; NAME_INVALID if not."""
    try:
        return canonical(name)
    except InvalidName:
        raise RegistryError(ErrorCode.NAME_INVALID, {"name": name}) from None


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
