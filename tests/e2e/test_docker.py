"""The Docker Hub tutorial, with the real docker CLI and engine against a real `dockyard serve`.

docker build -t my-omeropy-image .
docker tag my-omeropy-image HOST/ometraining/my-omeropy-image:0.1
docker push HOST/ometraining/my-omeropy-image:0.1
docker rmi ...; docker pull ...; docker run ...
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Cli, DockyardServer
from tests.e2e.registry_api import fetch_manifest, manifest_digest, tag_list

pytestmark = pytest.mark.docker

PUSHED = re.compile(
    r"^(?P<tag>\S+): digest: (?P<digest>sha256:[0-9a-f]{64}) size: (?P<size>\d+)$", re.MULTILINE
)
PULLED = re.compile(r"^Digest: (?P<digest>sha256:[0-9a-f]{64})$", re.MULTILINE)
DOCKERFILE = """\
FROM {base}
COPY message.txt /message.txt
RUN echo built > /built.txt
CMD ["cat", "/message.txt"]
"""


class LocalImages:
    """Builds images in the shared engine and removes every one of them afterwards."""

    def __init__(self, docker: Cli, base_image: str, workdir: Path) -> None:
        self.docker = docker
        self.base_image = base_image
        self.workdir = workdir
        self.run_id = uuid.uuid4().hex[:10]
        self.image_ids: set[str] = set()

    def build(self, message: str) -> str:
        """An image whose default command prints `message`; returns its local tag."""
        tag = f"dockyard-e2e-{self.run_id}:{len(self.image_ids)}"
        context = self.workdir / tag.replace(":", "-")
        context.mkdir()
        (context / "Dockerfile").write_text(DOCKERFILE.format(base=self.base_image))
        (context / "message.txt").write_text(message)
        self.docker("build", "--network=none", "--quiet", "--tag", tag, str(context))
        self.image_ids.add(self.image_id(tag))
        return tag

    def image_id(self, reference: str) -> str:
        return self.docker("image", "inspect", "--format", "{{.Id}}", reference).stdout.strip()

    def remove(self, image_id: str) -> None:
        """Forget an image under every name, so the next pull has to fetch it."""
        self.docker("rmi", "--force", image_id)
        assert self.docker("image", "inspect", image_id, check=False).returncode != 0

    def run(self, reference: str) -> str:
        return self.docker("run", "--rm", "--network=none", reference).stdout

    def remove_all(self) -> None:
        for image_id in self.image_ids:
            self.docker("rmi", "--force", image_id, check=False)


@pytest.fixture(scope="module")
def images(
    docker_cli: Cli, base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalImages]:
    local = LocalImages(docker_cli, base_image, tmp_path_factory.mktemp("docker-builds"))
    yield local
    local.remove_all()


def push(docker: Cli, reference: str) -> tuple[str, str]:
    """`docker push`; returns its output and the digest it reports."""
    output = docker("push", reference).stdout
    match = PUSHED.search(output)
    assert match is not None, f"no 'TAG: digest: ... size: ...' line in:\n{output}"
    return output, match["digest"]


def pull(docker: Cli, reference: str) -> str:
    """`docker pull`; returns the digest it reports."""
    output = docker("pull", reference).stdout
    match = PULLED.search(output)
    assert match is not None, f"no 'Digest: ...' line in:\n{output}"
    return match["digest"]


@dataclass(frozen=True)
class Tutorial:
    repository: str
    message: str
    image_id: str
    push_output: str
    digest: str
    latest_digest: str

    @property
    def reference(self) -> str:
        return f"{self.repository}:0.1"


@pytest.fixture(scope="module")
def tutorial(registry: DockyardServer, docker_cli: Cli, images: LocalImages) -> Tutorial:
    """A `latest` pushed first, then the tutorial's image pushed as 0.1 to the same repository."""
    repository = f"{registry.host}/ometraining/my-omeropy-image"
    latest = images.build(f"latest image {images.run_id}")
    docker_cli("tag", latest, f"{repository}:latest")
    _, latest_digest = push(docker_cli, f"{repository}:latest")

    message = f"my-omeropy-image 0.1 {images.run_id}"
    built = images.build(message)
    docker_cli("tag", built, f"{repository}:0.1")
    output, digest = push(docker_cli, f"{repository}:0.1")
    return Tutorial(repository, message, images.image_id(built), output, digest, latest_digest)


def test_push_reports_digest_and_size(registry: DockyardServer, tutorial: Tutorial) -> None:
    assert "0.1: digest: sha256:" in tutorial.push_output
    assert "size:" in tutorial.push_output

    manifest = fetch_manifest(registry, "ometraining/my-omeropy-image", "0.1")
    assert manifest.status_code == 200
    assert manifest.headers["Docker-Content-Digest"] == tutorial.digest
    assert f"size: {len(manifest.content)}" in tutorial.push_output


def test_pushing_a_tag_leaves_other_tags_untouched(registry: DockyardServer, tutorial: Tutorial) -> None:
    assert tutorial.latest_digest != tutorial.digest
    assert manifest_digest(registry, "ometraining/my-omeropy-image", "latest") == tutorial.latest_digest
    assert manifest_digest(registry, "ometraining/my-omeropy-image", "0.1") == tutorial.digest
    assert sorted(tag_list(registry, "ometraining/my-omeropy-image")) == ["0.1", "latest"]


def test_pull_after_rmi_then_run(docker_cli: Cli, images: LocalImages, tutorial: Tutorial) -> None:
    images.remove(tutorial.image_id)

    assert pull(docker_cli, tutorial.reference) == tutorial.digest

    assert images.image_id(tutorial.reference) == tutorial.image_id
    assert images.run(tutorial.reference) == tutorial.message


def test_pull_by_digest(docker_cli: Cli, images: LocalImages, tutorial: Tutorial) -> None:
    images.remove(tutorial.image_id)
    by_digest = f"{tutorial.repository}@{tutorial.digest}"

    assert pull(docker_cli, by_digest) == tutorial.digest

    repo_digests = docker_cli("image", "inspect", "--format", "{{json .RepoDigests}}", by_digest).stdout
    assert by_digest in repo_digests
    assert images.run(by_digest) == tutorial.message


@pytest.mark.parametrize(
    ("pushed_as", "pulled_as"),
    [("rockylinux", "library/rockylinux"), ("library/rockylinux", "rockylinux")],
)
def test_one_component_names_are_library_names(
    registry: DockyardServer, docker_cli: Cli, images: LocalImages, pushed_as: str, pulled_as: str
) -> None:
    message = f"rockylinux 9 {images.run_id} {pushed_as}"
    built = images.build(message)
    image_id = images.image_id(built)
    docker_cli("tag", built, f"{registry.host}/{pushed_as}:9")
    _, digest = push(docker_cli, f"{registry.host}/{pushed_as}:9")
    images.remove(image_id)

    pulled = f"{registry.host}/{pulled_as}:9"
    assert pull(docker_cli, pulled) == digest
    assert images.run(pulled) == message
    assert manifest_digest(registry, "library/rockylinux", "9") == digest
    assert manifest_digest(registry, "rockylinux", "9") == digest
