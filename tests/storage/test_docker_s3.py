"""docker push and pull against a real `dockyard serve` whose blobs live in the real S3 store, with
blob GETs redirected to presigned URLs (the engine fetches the layers from the store itself)."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

from tests.conftest import OPEN_REGISTRY, Cli, DockyardServer
from tests.storage.s3store import settings_env

pytestmark = pytest.mark.docker

MiB = 1024 * 1024
PULLED = re.compile(r"^Digest: (?P<digest>sha256:[0-9a-f]{64})$", re.MULTILINE)
PUSHED = re.compile(r": digest: (?P<digest>sha256:[0-9a-f]{64}) size: \d+$", re.MULTILINE)


def test_docker_push_and_pull_through_s3(
    docker_cli: Cli, base_image: str, tmp_path: Path, s3_bucket: tuple[dict[str, str], str]
) -> None:
    env, bucket = s3_bucket
    run = uuid.uuid4().hex[:10]
    settings = settings_env(
        env,
        bucket,
        DOCKYARD_S3_PREFIX=f"docker-{run}",
        DOCKYARD_S3_PART_SIZE=str(5 * MiB),
        DOCKYARD_S3_REDIRECT="true",
    )
    context = tmp_path / "context"
    context.mkdir()
    # A layer of incompressible bytes, larger than two parts: pushed, it becomes a multipart object.
    (context / "payload.bin").write_bytes(os.urandom(12 * MiB))
    (context / "message.txt").write_text(f"hello from s3 {run}\n")
    (context / "Dockerfile").write_text(
        f"FROM {base_image}\nCOPY payload.bin /payload.bin\nCOPY message.txt /message.txt\n"
        'CMD ["cat", "/message.txt"]\n'
    )
    local = f"dockyard-scale-s3-{run}:1"
    docker_cli("build", "--network=none", "--quiet", "--tag", local, str(context))
    with DockyardServer(tmp_path / "data", env={**OPEN_REGISTRY, **settings}) as server:
        remote = f"{server.host}/scale/s3-{run}:1"
        try:
            docker_cli("tag", local, remote)
            pushed = PUSHED.search(docker_cli("push", remote).stdout)
            assert pushed is not None
            docker_cli("rmi", "--force", local, remote)
            pulled = PULLED.search(docker_cli("pull", remote).stdout)
            assert pulled is not None and pulled["digest"] == pushed["digest"]
            assert docker_cli("run", "--rm", "--network=none", remote).stdout == f"hello from s3 {run}\n"
        finally:
            docker_cli("rmi", "--force", local, remote, check=False)
        log = server.log_path.read_text()
    # The layers came from the store through presigned URLs, not through Dockyard.
    assert re.search(r"GET /v2/scale/s3-[0-9a-f]+/blobs/sha256:[0-9a-f]{64} 307 ", log), log[-3000:]
