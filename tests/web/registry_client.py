"""Pushing test images over the registry API with a bearer token, without docker: small images
and multi-platform indexes whose sizes and platforms the tests know exactly, images with a config
of the test's choosing (history, env, labels), and artifacts that refer to an image (signatures,
SBOMs) through the OCI subject field."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import httpx

from tests.conftest import DockyardServer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class Pushed:
    digest: str
    size: int  # config + layers
    platform: str


def _digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


class RegistryClient:
    def __init__(self, server: DockyardServer, user: str, password: str) -> None:
        self.server = server
        self.auth = (user, password)

    def _client(self, repository: str) -> httpx.Client:
        token = httpx.get(
            f"{self.server.url}/token",
            params={"service": "dockyard", "scope": f"repository:{repository}:pull,push"},
            auth=self.auth,
        ).json()["token"]
        return httpx.Client(
            base_url=self.server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def _blob(self, client: httpx.Client, repository: str, data: bytes) -> str:
        digest = _digest(data)
        started = client.post(f"/v2/{repository}/blobs/uploads/")
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        separator = "&" if "?" in location else "?"
        done = client.put(f"{location}{separator}digest={digest}", content=data)
        assert done.status_code == 201, done.text
        return digest

    def image(
        self, repository: str, reference: str | None, os: str, arch: str, variant: str | None = None
    ) -> Pushed:
        with self._client(repository) as client:
            return self._image(client, repository, reference, os, arch, variant)

    def _image(
        self,
        client: httpx.Client,
        repository: str,
        reference: str | None,
        os: str,
        arch: str,
        variant: str | None,
    ) -> Pushed:
        platform = {"os": os, "architecture": arch, **({"variant": variant} if variant else {})}
        config = json.dumps({**platform, "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        layer = f"layer for {os}/{arch}/{variant} ".encode() * 3000
        config_digest = self._blob(client, repository, config)
        layer_digest = self._blob(client, repository, layer)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
                "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": len(layer)}],
            }
        ).encode()
        digest = _digest(manifest)
        put = client.put(
            f"/v2/{repository}/manifests/{reference or digest}",
            content=manifest,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert put.status_code == 201, put.text
        return Pushed(digest, len(config) + len(layer), "/".join(p for p in (os, arch, variant) if p))

    def index(
        self, repository: str, tag: str, platforms: list[tuple[str, str, str | None]]
    ) -> tuple[str, list[Pushed]]:
        with self._client(repository) as client:
            images = [self._image(client, repository, None, *platform) for platform in platforms]
            descriptors = [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": image.digest,
                    "size": 1,
                    "platform": dict(
                        zip(("os", "architecture", "variant"), image.platform.split("/"), strict=False)
                    ),
                }
                for image in images
            ]
            index = json.dumps(
                {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
            ).encode()
            put = client.put(
                f"/v2/{repository}/manifests/{tag}", content=index, headers={"Content-Type": OCI_INDEX}
            )
            assert put.status_code == 201, put.text
        return _digest(index), images

    def configured(
        self, repository: str, tag: str, config: dict[str, object] | bytes, layers: list[bytes]
    ) -> Pushed:
        """An image with exactly this config (a dict, or the bytes themselves) and these layers."""
        with self._client(repository) as client:
            config_bytes = config if isinstance(config, bytes) else json.dumps(config).encode()
            config_digest = self._blob(client, repository, config_bytes)
            descriptors = [
                {"mediaType": OCI_LAYER, "digest": self._blob(client, repository, layer), "size": len(layer)}
                for layer in layers
            ]
            manifest = {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
                "layers": descriptors,
            }
            digest = self._manifest(client, repository, tag, manifest)
        size = len(config_bytes) + sum(len(layer) for layer in layers)
        platform = f"{config.get('os')}/{config.get('architecture')}" if isinstance(config, dict) else ""
        return Pushed(digest, size, platform)

    def artifact(self, repository: str, subject: Pushed | str, artifact_type: str, body: bytes) -> str:
        """An OCI 1.1 artifact (a signature, an SBOM) whose subject is the image; its digest."""
        subject_digest = subject if isinstance(subject, str) else subject.digest
        with self._client(repository) as client:
            empty = self._blob(client, repository, b"{}")
            layer = self._blob(client, repository, body)
            subject_manifest = client.get(
                f"/v2/{repository}/manifests/{subject_digest}",
                headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"},
            )
            manifest = {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": artifact_type,
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
                "layers": [{"mediaType": artifact_type, "digest": layer, "size": len(body)}],
                "subject": {
                    "mediaType": subject_manifest.headers["Content-Type"],
                    "digest": subject_digest,
                    "size": len(subject_manifest.content),
                },
            }
            return self._manifest(client, repository, None, manifest)

    def _manifest(
        self, client: httpx.Client, repository: str, tag: str | None, manifest: dict[str, object]
    ) -> str:
        content = json.dumps(manifest).encode()
        digest = _digest(content)
        put = client.put(
            f"/v2/{repository}/manifests/{tag or digest}",
            content=content,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert put.status_code == 201, put.text
        return digest

    def tag_many(self, repository: str, source: Pushed, tags: list[str]) -> None:
        """Point each of ``tags`` at an image already pushed (one manifest PUT per tag)."""
        with self._client(repository) as client:
            content = client.get(
                f"/v2/{repository}/manifests/{source.digest}", headers={"Accept": OCI_MANIFEST}
            ).content
            for tag in tags:
                put = client.put(
                    f"/v2/{repository}/manifests/{tag}",
                    content=content,
                    headers={"Content-Type": OCI_MANIFEST},
                )
                assert put.status_code == 201, put.text
