"""skopeo against a real `dockyard serve`: copies in and out, multi-arch indexes, deletes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import Cli, DockyardServer
from tests.e2e.oci_layout import Descriptor, OciLayout
from tests.e2e.registry_api import OCI_INDEX, fetch_manifest, manifest_digest, sha256_digest

pytestmark = pytest.mark.skopeo

PLAIN_HTTP_DEST = "--dest-tls-verify=false"
PLAIN_HTTP_SRC = "--src-tls-verify=false"
PLAIN_HTTP = "--tls-verify=false"


def push_single_image(layout: OciLayout, skopeo: Cli, destination: str, marker: str) -> Descriptor:
    image = layout.add_image({"marker.txt": marker.encode()})
    layout.tag("src", image)
    skopeo("copy", PLAIN_HTTP_DEST, f"oci:{layout.root}:src", destination)
    return image


def test_copy_oci_layout_round_trip_keeps_the_manifest_digest(
    registry: DockyardServer, skopeo_cli: Cli, tmp_path: Path, unique: str
) -> None:
    name = f"skopeo/oci-{unique}"
    source = OciLayout(tmp_path / "source")
    image = push_single_image(source, skopeo_cli, f"docker://{registry.host}/{name}:v1", unique)

    assert manifest_digest(registry, name, "v1") == image.digest

    skopeo_cli("copy", PLAIN_HTTP_SRC, f"docker://{registry.host}/{name}:v1", f"oci:{tmp_path / 'out'}:v1")
    out = OciLayout(tmp_path / "out")
    assert out.resolve("v1").digest == image.digest
    manifest = out.read_json(image.digest)
    for blob in (manifest["config"], *manifest["layers"]):
        assert out.read_blob(blob["digest"]) == source.read_blob(blob["digest"])


def test_copy_docker_archive_to_registry_and_back_to_oci(
    registry: DockyardServer, skopeo_cli: Cli, docker_cli: Cli, base_image: str, tmp_path: Path, unique: str
) -> None:
    name = f"skopeo/archive-{unique}"
    archive = tmp_path / "image.tar"
    docker_cli("save", "-o", str(archive), base_image)
    digest_file = tmp_path / "digest"

    skopeo_cli(
        "copy", PLAIN_HTTP_DEST, "--digestfile", str(digest_file),
        f"docker-archive:{archive}", f"docker://{registry.host}/{name}:1",
    )  # fmt: skip
    pushed_digest = digest_file.read_text().strip()
    assert manifest_digest(registry, name, "1") == pushed_digest
    raw = fetch_manifest(registry, name, pushed_digest)
    assert raw.status_code == 200
    assert sha256_digest(raw.content) == pushed_digest
    pushed = raw.json()

    skopeo_cli("copy", PLAIN_HTTP_SRC, f"docker://{registry.host}/{name}:1", f"oci:{tmp_path / 'out'}:1")
    out = OciLayout(tmp_path / "out")
    pulled = out.read_json(out.resolve("1").digest)
    # Converting to OCI media types rewrites the manifest and re-encodes the config, never the layers.
    assert [layer["digest"] for layer in pulled["layers"]] == [layer["digest"] for layer in pushed["layers"]]
    for blob in (pulled["config"], *pulled["layers"]):
        assert sha256_digest(out.read_blob(blob["digest"])) == blob["digest"]
    pushed_config = httpx.get(f"{registry.url}/v2/{name}/blobs/{pushed['config']['digest']}", timeout=30)
    assert sha256_digest(pushed_config.content) == pushed["config"]["digest"]
    assert out.read_json(pulled["config"]["digest"])["rootfs"] == pushed_config.json()["rootfs"]


@dataclass(frozen=True)
class MultiArch:
    reference: str
    index: Descriptor
    platforms: dict[str, Descriptor]
    layout: OciLayout

    def layers(self, architecture: str) -> list[str]:
        manifest = self.layout.read_json(self.platforms[architecture].digest)
        return [layer["digest"] for layer in manifest["layers"]]


@pytest.fixture(scope="module")
def multi_arch(
    registry: DockyardServer, skopeo_cli: Cli, tmp_path_factory: pytest.TempPathFactory
) -> MultiArch:
    """An index of linux/amd64 and linux/arm64, pushed with `skopeo copy --all`."""
    layout = OciLayout(tmp_path_factory.mktemp("multi-arch"))
    platforms = {arch: layout.add_image({"arch.txt": arch.encode()}, arch) for arch in ("amd64", "arm64")}
    index = layout.add_index(list(platforms.values()))
    layout.tag("multi", index)
    reference = f"docker://{registry.host}/skopeo/multi-arch:1"
    skopeo_cli("copy", "--all", PLAIN_HTTP_DEST, f"oci:{layout.root}:multi", reference)
    return MultiArch(reference, index, platforms, layout)


def test_multi_arch_index_is_stored_as_pushed(
    registry: DockyardServer, skopeo_cli: Cli, multi_arch: MultiArch
) -> None:
    raw = json.loads(skopeo_cli("inspect", "--raw", PLAIN_HTTP, multi_arch.reference).stdout)
    assert raw["mediaType"] == OCI_INDEX
    assert [m["digest"] for m in raw["manifests"]] == [p.digest for p in multi_arch.platforms.values()]
    assert [m["platform"]["architecture"] for m in raw["manifests"]] == list(multi_arch.platforms)

    response = fetch_manifest(registry, "skopeo/multi-arch", "1")
    assert response.headers["Docker-Content-Digest"] == multi_arch.index.digest
    assert sha256_digest(response.content) == multi_arch.index.digest
    for child in multi_arch.platforms.values():
        assert manifest_digest(registry, "skopeo/multi-arch", child.digest) == child.digest


@pytest.mark.parametrize("architecture", ["amd64", "arm64"])
def test_inspect_override_arch_picks_the_platform_manifest(
    skopeo_cli: Cli, multi_arch: MultiArch, architecture: str
) -> None:
    platform = ("--override-os", "linux", "--override-arch", architecture)

    inspected = json.loads(skopeo_cli(*platform, "inspect", PLAIN_HTTP, multi_arch.reference).stdout)

    # skopeo reports the index's digest; the layers show which platform manifest it chose.
    assert inspected["Digest"] == multi_arch.index.digest
    assert inspected["Architecture"] == architecture
    assert inspected["Layers"] == multi_arch.layers(architecture)


def test_delete_removes_the_manifest(
    registry: DockyardServer, skopeo_cli: Cli, tmp_path: Path, unique: str
) -> None:
    name = f"skopeo/delete-{unique}"
    reference = f"docker://{registry.host}/{name}:1"
    image = push_single_image(OciLayout(tmp_path / "source"), skopeo_cli, reference, unique)
    skopeo_cli("inspect", PLAIN_HTTP, reference)

    skopeo_cli("delete", PLAIN_HTTP, reference)

    assert skopeo_cli("inspect", PLAIN_HTTP, reference, check=False).returncode != 0
    assert manifest_digest(registry, name, "1") is None
    assert manifest_digest(registry, name, image.digest) is None
    assert httpx.get(f"{registry.url}/v2/{name}/manifests/1", timeout=30).status_code == 404
