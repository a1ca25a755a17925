"""Manifest media types, parsing and validation (pure: no I/O)."""

from __future__ import annotations

import functools
import json
from typing import Any

from dockyard.digests import Digest, InvalidDigest
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.records import Descriptor, ParsedManifest, Platform

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
IMAGE_TYPES = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
INDEX_TYPES = frozenset({DOCKER_LIST, OCI_INDEX})
MANIFEST_TYPES = IMAGE_TYPES | INDEX_TYPES
EMPTY_JSON = "application/vnd.oci.empty.v1+json"
# Descriptor sizes are int64 (image-spec); an image's config and layers together stay within one
# too, so the sizes the hub adds up never overflow the database's integers.
MAX_SIZE = 2**63 - 1
# Real manifests nest a handful of levels. A stored manifest is parsed again later (referrers, an
# index's fallback), perhaps deeper in the stack: this bound keeps every later parse far from
# Python's recursion limit, which json's parser counts against.
MAX_DEPTH = 64
# Parsing is a pure function of the bytes and the Content-Type, and the same manifest comes back
# often: every tag pushed onto an image that is already there (CI's :latest, :sha, :1.2), every
# page that shows it. Small manifests (nearly all are 0.5-3 KB) are remembered, so at most
# PARSED_CACHE x CACHED_BYTES (4 MiB) stays in memory whatever clients send.
PARSED_CACHE = 256
CACHED_BYTES = 16 * 1024


def invalid(reason: str) -> RegistryError:
    return RegistryError(
        ErrorCode.MANIFEST_INVALID, {"reason": reason}, message=f"manifest invalid: {reason}"
    )


def parse_manifest(content: bytes, content_type: str | None) -> ParsedManifest:
    """The manifest's media type, references, subject and annotations; MANIFEST_INVALID otherwise.
    The result is shared between callers: never change it."""
    if len(content) <= CACHED_BYTES:
        return _parse_small(content, content_type)
    return _parse(content, content_type)


@functools.lru_cache(maxsize=PARSED_CACHE)
def _parse_small(content: bytes, content_type: str | None) -> ParsedManifest:
    return _parse(content, content_type)  # a manifest that raises is not remembered


def _parse(content: bytes, content_type: str | None) -> ParsedManifest:
    try:
        doc = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise invalid("not valid JSON") from None
    except RecursionError:  # arrays or objects nested deeper than Python's recursion limit
        raise invalid(f"nested more than {MAX_DEPTH} levels deep") from None
    if _too_deep(doc):
        raise invalid(f"nested more than {MAX_DEPTH} levels deep")
    if not isinstance(doc, dict):
        raise invalid("a manifest is a JSON object")
    media_type = _media_type(doc, content_type)
    if doc.get("schemaVersion") != 2:
        raise invalid("schemaVersion must be 2")
    subject = _descriptor(doc["subject"], "subject") if "subject" in doc else None
    annotations = _annotations(doc.get("annotations"), "annotations")
    if media_type in INDEX_TYPES:
        children = tuple(_descriptor(d, "manifests[]") for d in _list(doc, "manifests"))
        return ParsedManifest(
            media_type, True, (), children, subject, _opt_str(doc, "artifactType"), annotations
        )
    config = _descriptor(doc.get("config"), "config")
    layers = tuple(_descriptor(d, "layers[]") for d in _list(doc, "layers"))
    if sum(d.size for d in (config, *layers)) > MAX_SIZE:
        raise invalid(f"the sizes of config and layers add up to more than {MAX_SIZE} bytes")
    # Foreign and non-distributable layers live elsewhere (their urls); never required here.
    required = (config, *(layer for layer in layers if not layer.urls))
    # The referrers API reports artifactType, falling back to the config's media type.
    artifact_type = _opt_str(doc, "artifactType") or config.media_type
    return ParsedManifest(media_type, False, required, (), subject, artifact_type, annotations)


def _too_deep(doc: Any) -> bool:
    """Whether arrays and objects nest more than MAX_DEPTH levels (iterative: no recursion)."""
    pending: list[tuple[Any, int]] = [(doc, 1)]
    while pending:
        value, depth = pending.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth >= MAX_DEPTH:
                    return True
                pending.append((child, depth + 1))
    return False


def _media_type(doc: dict[str, Any], content_type: str | None) -> str:
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise invalid("mediaType must be a string")
    header = (content_type or "").split(";")[0].strip() or None
    if header in ("application/json", "application/octet-stream"):
        header = None
    if declared and header and declared != header:
        raise invalid(f"mediaType {declared} does not match Content-Type {header}")
    media_type = declared or header
    if media_type is None:
        # OCI allows omitting mediaType; infer it from the shape.
        media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
    if media_type in DOCKER_SCHEMA1:
        raise invalid("Docker schema 1 manifests are not supported; push with a current client")
    if media_type not in MANIFEST_TYPES:
        raise invalid(f"unsupported manifest media type {media_type}")
    return media_type


def _list(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key)
    if not isinstance(value, list):
        raise invalid(f"{key} must be a list")
    return value


def _opt_str(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise invalid(f"{key} must be a string")
    return value


def _annotations(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise invalid(f"{where} must map strings to strings")
    return value


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise invalid(f"{where} must be a descriptor object")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise invalid(f"{where}.mediaType must be a string")
    if not isinstance(digest, str):
        raise invalid(f"{where}.digest must be a string")
    try:
        Digest.parse(digest)
    except InvalidDigest:
        raise invalid(f"{where}.digest {digest!r} is not a valid digest") from None
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_SIZE:
        raise invalid(f"{where}.size must be an integer from 0 to {MAX_SIZE}")
    urls = value.get("urls") or ()
    if not isinstance(urls, list | tuple) or not all(isinstance(u, str) for u in urls):
        raise invalid(f"{where}.urls must be a list of strings")
    return Descriptor(
        media_type,
        digest,
        size,
        platform=_platform(value.get("platform"), where),
        artifact_type=_opt_str(value, "artifactType"),
        annotations=_annotations(value.get("annotations"), f"{where}.annotations") or None,
        urls=tuple(urls),
    )


def _platform(value: Any, where: str) -> Platform | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(f"{where}.platform must be an object")
    os_, arch, variant = value.get("os"), value.get("architecture"), value.get("variant")
    if not isinstance(os_, str) or not isinstance(arch, str):
        raise invalid(f"{where}.platform needs os and architecture")
    if variant is not None and not isinstance(variant, str):
        raise invalid(f"{where}.platform.variant must be a string")
    return Platform(os_, arch, variant)


def accepted_types(accept_headers: list[str]) -> frozenset[str] | None:
    """The manifest media types a client accepts; None when it states no preference."""
    types = set()
    for header in accept_headers:
        for part in header.split(","):
            media_type = part.split(";")[0].strip()
            if media_type:
                types.add(media_type)
    if not types & (MANIFEST_TYPES | set(DOCKER_SCHEMA1)) or "*/*" in types:
        return None
    return frozenset(types)
