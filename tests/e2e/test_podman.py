"""podman against a real `dockyard serve`: push in both manifest formats, then pull into empty storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli, DockyardServer, busybox_rootfs_tar
from tests.e2e.registry_api import DOCKER_MANIFEST, OCI_MANIFEST, fetch_manifest, manifest_digest

pytestmark = pytest.mark.podman

PLAIN_HTTP = "--tls-verify=false"
MEDIA_TYPES = {"oci": OCI_MANIFEST, "v2s2": DOCKER_MANIFEST}


def import_image(podman: Cli, directory: Path, name: str, marker: str) -> None:
    tarball = directory / "rootfs.tar"
    tarball.write_bytes(busybox_rootfs_tar({"marker.txt": marker.encode()}))
    podman("import", "--quiet", str(tarball), name)


def read_file(podman: Cli, image: str, path: str, destination: Path) -> str:
    """Copy a file out of an image without running it (container runtimes may be unusable in CI)."""
    container = podman("create", "--network=none", image, "/bin/true").stdout.strip()
    try:
        podman("cp", f"{container}:{path}", str(destination))
    finally:
        podman("rm", container)
    return destination.read_text()


@pytest.mark.parametrize("manifest_format", ["oci", "v2s2"])
def test_push_then_pull_into_empty_storage(
    registry: DockyardServer, podman_cli: Cli, tmp_path: Path, unique: str, manifest_format: str
) -> None:
    local = f"localhost/dockyard-e2e-{unique}:src"
    name = f"podman/busybox-{manifest_format}"
    remote = f"{registry.host}/{name}:{unique}"
    import_image(podman_cli, tmp_path, local, unique)
    digest_file = tmp_path / "digest"

    podman_cli(
        "push", PLAIN_HTTP, "--format", manifest_format, "--digestfile", str(digest_file), local, remote
    )

    digest = digest_file.read_text().strip()
    assert manifest_digest(registry, name, unique) == digest
    stored = fetch_manifest(registry, name, digest)
    assert stored.headers["Content-Type"].split(";")[0] == MEDIA_TYPES[manifest_format]

    podman_cli("rmi", "--force", local)
    assert podman_cli("image", "exists", remote, check=False).returncode == 1

    podman_cli("pull", PLAIN_HTTP, "--quiet", remote)
    try:
        assert podman_cli("image", "inspect", "--format", "{{.Digest}}", remote).stdout.strip() == digest
        assert read_file(podman_cli, remote, "/marker.txt", tmp_path / "marker.txt") == unique
    finally:
        podman_cli("rmi", "--force", remote, check=False)
