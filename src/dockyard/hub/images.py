"""The image page's data: one manifest of a repository, read as Docker Hub's image page shows it.

    an index  its platform images (OS/arch, compressed size, whether each is here), the
              attestations buildx put inside it, the artifacts that refer to it
    an image  its platform, compressed size, layers with their instructions, the run config,
              and the artifacts that refer to it (signatures, SBOMs, attestations)

Both also list the tags that point at the digest and the indexes that hold it. The manifest comes
from the registry's metadata (reading it is not a pull: nothing is counted), the config blob from
storage (at most ``MAX_CONFIG_BYTES``), the referrers from the registry's referrers API. Access is
the caller's business: HubService checks the viewer may pull first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dockyard.db.engine import Database, offload
from dockyard.digests import Digest, InvalidDigest
from dockyard.hub.errors import NotFound
from dockyard.hub.imageconfig import Layer, RunConfig, layers, platform, run_config
from dockyard.registry import readmodels
from dockyard.registry.errors import RegistryError
from dockyard.registry.manifests import parse_manifest
from dockyard.registry.records import Descriptor, ParsedManifest
from dockyard.registry.service import Registry
from dockyard.storage import PathNotFound, paths

MAX_CONFIG_BYTES = 1024 * 1024
MAX_ATTESTATIONS = 20  # attestation manifests read for their predicate types
ATTESTATION_TYPE = "vnd.docker.reference.type"
ATTESTATION_OF = "vnd.docker.reference.digest"
PREDICATE_TYPE = "in-toto.io/predicate-type"

# What people call an artifact type; the type itself is shown beside it.
ARTIFACT_KINDS = {
    "application/vnd.dev.cosign.artifact.sig.v1+json": "Signature (cosign)",
    "application/vnd.dev.cosign.simplesigning.v1+json": "Signature (cosign)",
    "application/vnd.dev.sigstore.bundle.v0.3+json": "Signature (Sigstore bundle)",
    "application/vnd.cncf.notary.signature": "Signature (Notation)",
    "application/spdx+json": "SBOM (SPDX)",
    "text/spdx": "SBOM (SPDX)",
    "application/vnd.cyclonedx+json": "SBOM (CycloneDX)",
    "application/vnd.cyclonedx+xml": "SBOM (CycloneDX)",
    "application/vnd.syft+json": "SBOM (Syft)",
    "application/vnd.dev.cosign.artifact.sbom.v1+json": "SBOM (cosign)",
    "application/vnd.in-toto+json": "Attestation (in-toto)",
    "application/vnd.dsse.envelope.v1+json": "Attestation (DSSE)",
}
PREDICATE_KINDS = {
    "https://spdx.dev/Document": "SBOM (SPDX)",
    "https://cyclonedx.org/bom": "SBOM (CycloneDX)",
    "https://slsa.dev/provenance/v0.2": "Provenance (SLSA v0.2)",
    "https://slsa.dev/provenance/v1": "Provenance (SLSA v1)",
}


@dataclass(frozen=True, slots=True)
class Referrer:
    """An artifact that refers to an image: a signature, an SBOM, an attestation."""

    digest: str
    media_type: str
    artifact_type: str
    kind: str  # "Signature (cosign)", "SBOM (SPDX)", ...
    size: int
    annotations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PlatformImage:
    digest: str
    platform: str  # "linux/arm64/v8"; "" when the index does not say
    size: int  # compressed: config and layers; 0 when the image is not in this repository
    here: bool


@dataclass(frozen=True, slots=True)
class ImageDetail:
    repository: str
    digest: str
    media_type: str
    is_index: bool
    tags: tuple[str, ...]  # tags that point at this digest
    indexes: tuple[str, ...]  # digests of the indexes here that hold this image
    referrers: tuple[Referrer, ...]
    # an index
    platforms: tuple[PlatformImage, ...] = ()
    attestations: tuple[Referrer, ...] = ()  # attestation manifests inside the index
    # an image
    platform: str = ""
    size: int = 0
    layers: tuple[Layer, ...] = ()
    config: RunConfig | None = None
    config_note: str = ""  # why the config is not shown, when it is not
    artifact_type: str = ""  # an artifact (a signature, an SBOM) rather than a runnable image


def artifact_kind(artifact_type: str) -> str:
    known = ARTIFACT_KINDS.get(artifact_type.split(";")[0].strip())
    if known:
        return known
    lowered = artifact_type.lower()
    for word, kind in (("sbom", "SBOM"), ("spdx", "SBOM"), ("cyclonedx", "SBOM"), ("sig", "Signature")):
        if word in lowered:
            return kind
    if "attest" in lowered or "in-toto" in lowered or "provenance" in lowered:
        return "Attestation"
    return "Artifact"


class ImageReader:
    def __init__(self, database: Database, registry: Registry) -> None:
        self.db = database
        self.registry = registry

    async def detail(self, repository: str, digest: str) -> ImageDetail:
        try:
            canonical = str(Digest.parse(digest))
        except (InvalidDigest, ValueError):
            raise NotFound(f"{digest!r} is not a digest") from None
        try:
            stored = await self.registry.manifest(repository, canonical, None)
            parsed = parse_manifest(stored.content, stored.media_type)
        except RegistryError:
            raise NotFound(f"no image {canonical} in {repository}") from None
        tag_names, indexes, sizes = await self._around(repository, canonical, parsed)
        common: dict[str, Any] = {
            "repository": repository,
            "digest": canonical,
            "media_type": stored.media_type,
            "is_index": parsed.is_index,
            "tags": tag_names,
            "indexes": indexes,
            "referrers": await self._referrers(repository, canonical),
        }
        if parsed.is_index:
            return ImageDetail(**common, **await self._index(repository, parsed, sizes))
        return ImageDetail(**common, **await self._image(stored.content, parsed))

    async def _index(self, repository: str, parsed: ParsedManifest, sizes: dict[str, int]) -> dict[str, Any]:
        platforms: list[PlatformImage] = []
        attestations: list[Referrer] = []
        for child in parsed.children:
            annotations = child.annotations or {}
            unknown = child.platform is not None and child.platform.os == "unknown"
            if annotations.get(ATTESTATION_TYPE) == "attestation-manifest" or unknown:
                if len(attestations) < MAX_ATTESTATIONS:
                    attestations.extend(await self._attestation(repository, child))
                continue
            shown = ""
            if child.platform is not None:
                parts = (child.platform.os, child.platform.architecture, child.platform.variant)
                shown = "/".join(p for p in parts if p)
            platforms.append(
                PlatformImage(child.digest, shown, sizes.get(child.digest, 0), child.digest in sizes)
            )
        return {"platforms": tuple(platforms), "attestations": tuple(attestations)}

    async def _attestation(self, repository: str, child: Descriptor) -> list[Referrer]:
        """buildx's attestation manifest: one referrer per predicate (SBOM, provenance) it holds."""
        of = (child.annotations or {}).get(ATTESTATION_OF, "")
        note = (("for", of),) if of else ()
        try:
            stored = await self.registry.manifest(repository, child.digest, None)
            doc = json.loads(stored.content)
        except (RegistryError, ValueError, RecursionError):
            return [Referrer(child.digest, child.media_type, "", "Attestation", child.size, note)]
        found = []
        for layer in doc.get("layers", []) if isinstance(doc, dict) else []:
            annotations = layer.get("annotations") if isinstance(layer, dict) else None
            predicate = annotations.get(PREDICATE_TYPE) if isinstance(annotations, dict) else None
            if isinstance(predicate, str):
                kind = PREDICATE_KINDS.get(predicate, "Attestation")
                found.append(Referrer(child.digest, child.media_type, predicate, kind, child.size, note))
        return found or [Referrer(child.digest, child.media_type, "", "Attestation", child.size, note)]

    async def _image(self, content: bytes, parsed: ParsedManifest) -> dict[str, Any]:
        doc = json.loads(content)
        config_descriptor = parsed.blobs[0] if parsed.blobs else None
        layer_descriptors = [_descriptor_of(d) for d in doc.get("layers", []) if isinstance(d, dict)]
        size = sum(d.size for d in layer_descriptors) + (config_descriptor.size if config_descriptor else 0)
        config, note = await self._config(config_descriptor)
        result: dict[str, Any] = {"size": size, "config_note": note}
        if config is not None:
            result.update(platform=platform(config), config=run_config(config))
        if (
            parsed.artifact_type
            and config_descriptor
            and parsed.artifact_type != config_descriptor.media_type
        ):
            result["artifact_type"] = parsed.artifact_type
        elif config is None and config_descriptor is not None and not note:
            result["artifact_type"] = config_descriptor.media_type
        result["layers"] = tuple(layers(config, layer_descriptors))
        return result

    async def _config(self, descriptor: Descriptor | None) -> tuple[dict[str, Any] | None, str]:
        """The config blob as JSON, or why not: too large, missing, not an image config."""
        if descriptor is None:
            return None, "The manifest names no config."
        if not descriptor.media_type.endswith(("container.image.v1+json", "image.config.v1+json")):
            return None, ""  # an artifact's config: nothing to show
        try:
            path = paths.blob_data(Digest.parse(descriptor.digest))
            info = await self.registry.storage.stat(path)
            if info.size > MAX_CONFIG_BYTES:
                return None, f"The config is larger than {MAX_CONFIG_BYTES // 1024} KiB; it is not shown."
            config = json.loads(await self.registry.storage.get_content(path))
        except PathNotFound:
            return None, "The config blob is not in storage."
        except (ValueError, RecursionError, InvalidDigest):
            return None, "The config is not valid JSON."
        if not isinstance(config, dict):
            return None, "The config is not a JSON object."
        return config, ""

    async def _referrers(self, repository: str, digest: str) -> tuple[Referrer, ...]:
        try:
            index = await self.registry.referrers(repository, Digest.parse(digest), None)
        except (RegistryError, InvalidDigest, ValueError):
            return ()
        found = []
        for item in index.get("manifests", []):
            artifact_type = item.get("artifactType") or ""
            annotations = tuple(sorted((item.get("annotations") or {}).items()))
            found.append(
                Referrer(
                    item["digest"],
                    item["mediaType"],
                    artifact_type,
                    artifact_kind(artifact_type),
                    item["size"],
                    annotations,
                )
            )
        return tuple(found)

    @offload
    def _around(
        self, repository: str, digest: str, parsed: ParsedManifest
    ) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, int]]:
        """Tags on the digest, indexes holding it, and (an index) its children's sizes here."""
        with self.db.read.connect() as conn:
            repo_id = readmodels.repository_id(conn, repository)
            if repo_id is None:
                return (), (), {}
            tag_names = readmodels.tags_on(conn, repo_id, digest)
            holders = readmodels.indexes_holding(conn, repo_id, digest)
            children = [c.digest for c in parsed.children] if parsed.is_index else []
            sizes = {d: image.size for d, image in readmodels.images(conn, repo_id, children).items()}
            return tag_names, holders, sizes


def _descriptor_of(value: dict[str, Any]) -> Descriptor:
    """A layer descriptor of a manifest already validated at push time."""
    return Descriptor(
        str(value.get("mediaType", "")), str(value.get("digest", "")), int(value.get("size", 0))
    )
