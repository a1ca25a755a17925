"""Stateless replicas behind nginx, with real servers: two `dockyard serve` processes, each with a
data folder of its own (scratch only), on one PostgreSQL database and one S3 bucket, behind Debian's
nginx rendered from deploy/nginx.conf; docker and skopeo as the clients. And the folder backend
behind nginx with DOCKYARD_ACCEL_REDIRECT, where nginx sends the blob files.

One module, one topology for all its tests (started once: ~10 s of the suite)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dockyard.auth import keys
from tests.conftest import OPEN_REGISTRY, Cli, DockyardServer, busybox_rootfs_tar, free_port
from tests.replicas.builds import queue_builds
from tests.replicas.topology import Nginx, postgres_database
from tests.storage.s3store import new_bucket_name, remove_bucket, s3_environment, settings_env

pytestmark = pytest.mark.e2e

MIB = 1 << 20


@dataclass
class Topology:
    replicas: list[DockyardServer]  # on PostgreSQL and S3
    nginx: Nginx  # in front of both
    database_url: str
    env: dict[str, str]
    folder: DockyardServer  # the folder backend, with DOCKYARD_ACCEL_REDIRECT
    accel: Nginx  # in front of it, sending its blob files


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory, template_database: Path) -> Iterator[Topology]:
    """migrate, then the replicas, then nginx: the start order of docs/deploy.md. The folder-backend
    server behind a second nginx is part of it, so the module starts everything once."""
    root = tmp_path_factory.mktemp("topology")
    s3, bucket = s3_environment(), new_bucket_name()
    shared = root / "shared"  # what an operator hands every replica: the two key files
    keys._create(shared / "token-signing-key.pem")  # or: openssl genpkey -algorithm EC ...
    ports = [free_port(), free_port()]
    nginx = Nginx(root / "nginx", [f"127.0.0.1:{port}" for port in ports])
    env = {
        **OPEN_REGISTRY,
        **settings_env(s3, bucket),
        "DOCKYARD_PUBLIC_URL": nginx.url,
        "DOCKYARD_TRUSTED_PROXIES": "127.0.0.1",
        "DOCKYARD_TOKEN_SIGNING_KEY_FILE": str(shared / "token-signing-key.pem"),
        "DOCKYARD_SECRETS_KEY_FILE": str(shared / "secrets.key"),
        "DOCKYARD_BUILD_EMBEDDED_WORKER": "false",
    }
    folder_env = {**OPEN_REGISTRY, "DOCKYARD_ACCEL_REDIRECT": "/internal-blobs/"}
    folder = DockyardServer(root / "folder", env=folder_env, template=template_database)
    accel = Nginx(root / "accel", [folder.host], blob_root=folder.data_dir / "storage")
    try:
        with postgres_database(env) as url:
            env["DOCKYARD_DATABASE_URL"] = url
            replicas = [
                DockyardServer(root / f"replica-{i}", port=port, env=env) for i, port in enumerate(ports)
            ]
            try:
                for server in [*replicas, folder]:  # one at a time: each start is CPU-bound
                    server.start()
                with nginx, accel:
                    yield Topology(replicas, nginx, url, env, folder, accel)
            finally:
                for server in [*replicas, folder]:
                    if server.running:
                        server.stop()
    finally:
        remove_bucket(s3, bucket)


def image(docker_cli: Cli, ref: str, tmp_path: Path, layers: int = 1, layer_mib: int = 1) -> None:
    """An image of `layers` layers of random bytes (nothing to share with an earlier push)."""
    context = tmp_path / f"context-{uuid.uuid4().hex[:8]}"
    context.mkdir()
    (context / "rootfs.tar").write_bytes(busybox_rootfs_tar())
    lines = ["FROM scratch", "ADD rootfs.tar /"]
    for n in range(layers):
        (context / f"layer{n}").write_bytes(os.urandom(layer_mib * MIB))
        lines.append(f"COPY layer{n} /layer{n}")
    (context / "Dockerfile").write_text("\n".join(lines) + "\n")
    docker_cli("build", "-q", "-t", ref, str(context))


def pulled_digests(skopeo: Cli, host: str, name: str, into: Path) -> set[str]:
    """Every blob of the image, fetched by skopeo from `host` and checked against its digest."""
    skopeo("copy", "--src-tls-verify=false", f"docker://{host}/{name}", f"dir:{into}")
    manifest = json.loads((into / "manifest.json").read_text())
    digests = {manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])}
    for digest in digests:
        data = (into / digest.removeprefix("sha256:")).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    return digests


def test_a_push_through_nginx_is_pulled_from_each_replica(
    topology: Topology, docker_cli: Cli, skopeo_cli: Cli, tmp_path: Path
) -> None:
    ref = f"{topology.nginx.host}/topology/app:1"
    image(docker_cli, ref, tmp_path, layers=2)
    try:
        docker_cli("push", ref)
    finally:
        docker_cli("rmi", "-f", ref, check=False)
    seen = [
        pulled_digests(skopeo_cli, replica.host, "topology/app:1", tmp_path / f"pull-{i}")
        for i, replica in enumerate(topology.replicas)
    ]
    assert seen[0] == seen[1] and len(seen[0]) == 4  # config + rootfs + 2 layers
    used = {line.split('"')[0] for line in topology.nginx.access_log().splitlines()}
    assert used, "nginx logged no request"


def test_a_chunked_upload_alternating_between_replicas_completes(topology: Topology) -> None:
    chunks = [os.urandom(MIB) for _ in range(4)]
    digest = "sha256:" + hashlib.sha256(b"".join(chunks)).hexdigest()
    clients = [httpx.Client(base_url=r.url, timeout=30) for r in topology.replicas]
    try:
        started = clients[0].post("/v2/topology/chunked/blobs/uploads/")
        assert started.status_code == 202, started.text
        location, offset = started.headers["location"], 0
        for index, chunk in enumerate(chunks[:-1]):
            headers = {
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                "Content-Type": "application/octet-stream",
            }
            answer = clients[(index + 1) % 2].patch(location, content=chunk, headers=headers)
            assert answer.status_code == 202, answer.text
            location, offset = answer.headers["location"], offset + len(chunk)
        done = clients[0].put(location, params={"digest": digest}, content=chunks[-1])
        assert done.status_code == 201, done.text
        for client in clients:
            assert client.head(f"/v2/topology/chunked/blobs/{digest}").headers["content-length"] == str(
                4 * MIB
            )
    finally:
        for client in clients:
            client.close()


CLAIMER = """
import sys, time, anyio
from dockyard.builds.queue import BuildQueue
from dockyard.builds.secrets import SecretBox
from dockyard.db.engine import make_database
from pathlib import Path
box = SecretBox.load(Path(sys.argv[2]))
queue = BuildQueue(make_database(sys.argv[1]), box, lease_seconds=600, max_attempts=1)
print("ready", flush=True)
sys.stdin.readline()  # both start claiming together
while (job := anyio.run(queue.claim, sys.argv[3])) is not None:
    print(job.build.id, flush=True)
    time.sleep(0.01)  # a worker that claimed a job runs it: the other process gets its turn
"""


def test_build_workers_in_two_processes_claim_each_job_once(topology: Topology, tmp_path: Path) -> None:
    queued = queue_builds(topology.database_url, Path(topology.env["DOCKYARD_SECRETS_KEY_FILE"]), 20)
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                CLAIMER,
                topology.database_url,
                topology.env["DOCKYARD_SECRETS_KEY_FILE"],
                f"w{n}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    claimed = [worker.communicate(timeout=120)[0].split() for worker in workers]
    ids = [int(i) for ids in claimed for i in ids]
    assert sorted(ids) == sorted(queued)  # every job claimed, none twice
    assert all(claimed), "one process claimed nothing: the race was not exercised"


# -- the folder backend behind nginx, nginx sending the files ---------------------------------------


def test_blob_pulls_through_nginx_are_sent_by_nginx(
    topology: Topology, docker_cli: Cli, skopeo_cli: Cli, tmp_path: Path
) -> None:
    accel = topology.accel
    ref = f"{accel.host}/accel/app:1"
    image(docker_cli, ref, tmp_path, layer_mib=3)
    try:
        docker_cli("push", ref)
    finally:
        docker_cli("rmi", "-f", ref, check=False)
    digests = pulled_digests(skopeo_cli, accel.host, "accel/app:1", tmp_path / "pulled")
    layer = max(digests, key=lambda d: (tmp_path / "pulled" / d.removeprefix("sha256:")).stat().st_size)
    data = (tmp_path / "pulled" / layer.removeprefix("sha256:")).read_bytes()
    with httpx.Client(base_url=accel.url, timeout=30) as client:
        whole = client.get(f"/v2/accel/app/blobs/{layer}")
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["docker-content-digest"] == layer
        assert whole.headers["content-type"] == "application/octet-stream"
        # Each once: neither dropped across the redirect nor said by both Dockyard and nginx.
        assert whole.headers["cache-control"] == "max-age=31536000"
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.headers["etag"] == f'"{layer}"'
        assert "x-accel-redirect" not in whole.headers
        assert client.head(f"/v2/accel/app/blobs/{layer}").headers["content-length"] == str(len(data))
        part = client.get(f"/v2/accel/app/blobs/{layer}", headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == data[10:20]
        assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
        # Access is Dockyard's to decide: a repository that does not link the blob gets no bytes,
        # and the internal location cannot be asked for directly.
        assert client.get(f"/v2/accel/other/blobs/{layer}").status_code == 404
        hexdigest = layer.removeprefix("sha256:")
        assert client.get(f"/internal-blobs/blobs/sha256/{hexdigest[:2]}/{hexdigest}/data").status_code == 404
    # What nginx acted on: the replica itself answers with the header and no body.
    direct = topology.folder.http.get(f"/v2/accel/app/blobs/{layer}")
    assert direct.status_code == 200 and direct.content == b""
    assert (
        direct.headers["x-accel-redirect"] == f"/internal-blobs/blobs/sha256/{hexdigest[:2]}/{hexdigest}/data"
    )
    assert "x-accel-redirect" not in topology.folder.http.get(f"/v2/accel/other/blobs/{layer}").headers


# -- last: it leaves one replica dead ------------------------------------------------------------


def test_killing_a_replica_during_a_push_lets_it_finish_through_the_other(
    topology: Topology, docker_cli: Cli, skopeo_cli: Cli, tmp_path: Path
) -> None:
    victim, survivor = topology.replicas
    ref = f"{topology.nginx.host}/topology/killed:1"
    image(docker_cli, ref, tmp_path, layers=3, layer_mib=8)
    before = len(topology.nginx.access_log().splitlines())
    push = subprocess.Popen(
        [docker_cli.path, "push", ref], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **docker_cli.env},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "/blobs/uploads/" not in "".join(topology.nginx.access_log().splitlines()[before:]):
            assert time.monotonic() < deadline and push.poll() is None, "the push sent no upload"
            time.sleep(0.05)
        victim.kill()  # kill -9, mid-push
        output, _ = push.communicate(timeout=240)
        assert push.returncode == 0, output
        again = f"{topology.nginx.host}/topology/after-kill:1"
        image(docker_cli, again, tmp_path)
        docker_cli("push", again)  # with one replica down from the start
    finally:
        if push.poll() is None:
            push.kill()
        docker_cli("rmi", "-f", ref, f"{topology.nginx.host}/topology/after-kill:1", check=False)
    for name in ("topology/killed:1", "topology/after-kill:1"):
        pulled_digests(skopeo_cli, survivor.host, name, tmp_path / name.replace("/", "-"))
