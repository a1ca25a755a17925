"""Write OCI image layouts by hand, so the tests know every digest before a client touches them.

root/
  oci-layout                {"imageLayoutVersion": "1.0.0"}
  index.json                one entry per tag, named by org.opencontainers.image.ref.name
  blobs/sha256/<hex>        layers (tar+gzip), configs, manifests, indexes
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.registry_api import OCI_INDEX, OCI_MANIFEST, sha256_digest

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform is not None:
            body["platform"] = self.platform
        return body


def layer_tar(files: dict[str, bytes]) -> bytes:
    """A reproducible, uncompressed tar holding `files` (path -> content), owned by root."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, content in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(content), 0o644
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


class OciLayout:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.blobs.mkdir(parents=True, exist_ok=True)
        layout = root / "oci-layout"
        if not layout.exists():
            layout.write_text('{"imageLayoutVersion": "1.0.0"}')

    def add_blob(self, data: bytes, media_type: str, platform: dict[str, str] | None = None) -> Descriptor:
        descriptor = Descriptor(media_type, sha256_digest(data), len(data), platform)
        (self.blobs / descriptor.digest.removeprefix("sha256:")).write_bytes(data)
        return descriptor

    def add_image(
        self, files: dict[str, bytes], architecture: str = "amd64", os: str = "linux"
    ) -> Descriptor:
        """One single-layer image; returns the manifest's descriptor, carrying its platform."""
        tar = layer_tar(files)
        layer = self.add_blob(gzip.compress(tar, mtime=0), OCI_LAYER_GZIP)
        config = {
            "architecture": architecture,
            "os": os,
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar)]},
        }
        config_descriptor = self.add_blob(_canonical(config), OCI_CONFIG)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_descriptor.to_json(),
            "layers": [layer.to_json()],
        }
        return self.add_blob(_canonical(manifest), OCI_MANIFEST, {"architecture": architecture, "os": os})

    def add_index(self, manifests: list[Descriptor]) -> Descriptor:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [m.to_json() for m in manifests]}
        return self.add_blob(_canonical(index), OCI_INDEX)

    def tag(self, name: str, descriptor: Descriptor) -> None:
        entries = [e for e in self.index_entries() if e.get("annotations", {}).get(REF_NAME) != name]
        entry = {**descriptor.to_json(), "annotations": {REF_NAME: name}}
        entry.pop("platform", None)
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [*entries, entry]}
        (self.root / "index.json").write_bytes(_canonical(index))

    def index_entries(self) -> list[dict[str, Any]]:
        path = self.root / "index.json"
        if not path.exists():
            return []
        entries: list[dict[str, Any]] = json.loads(path.read_bytes())["manifests"]
        return entries

    def resolve(self, name: str) -> Descriptor:
        for entry in self.index_entries():
            if entry.get("annotations", {}).get(REF_NAME) == name:
                return Descriptor(entry["mediaType"], entry["digest"], entry["size"])
        raise KeyError(f"no tag {name!r} in {self.root}/index.json")

    def read_json(self, digest: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.read_blob(digest))
        return document

    def read_blob(self, digest: str) -> bytes:
        return (self.blobs / digest.removeprefix("sha256:")).read_bytes()


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
