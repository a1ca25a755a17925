"""Two rows for the scale-out topology of docs/deploy.md, each against distribution 2.8.2 (Debian's
``docker-registry``) with its ``s3`` driver on the same S3 store:

    pull   a blob GET through nginx, Dockyard answering X-Accel-Redirect (folder backend) so that
           nginx sends the file; distribution streams it from S3 (``redirect: disable``)
    push   a monolithic blob push through nginx to two Dockyard replicas on PostgreSQL and S3;
           distribution on S3, directly

    .venv/bin/python bench/run.py --topology [--size-mib 128] [--reps 3]

Needs the S3 store (the AWS_* lines of ``../shared/s3/start.sh``), PostgreSQL
(DOCKYARD_TEST_POSTGRES_URL from ``.ci/postgres.sh``) and nginx. nginx is rendered from
deploy/nginx.conf by the function the topology test uses. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from benchlib import servers
from benchlib.workloads import Blob, Sample, Target, make_blob, pull, push_monolithic
from rich.console import Console

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))  # tests.replicas.topology: the nginx the topology test runs

from tests.replicas.topology import Nginx  # noqa: E402
from tests.storage.s3store import remove_bucket  # noqa: E402

MIB = 1 << 20
console = Console(stderr=True)

DISTRIBUTION_S3 = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  s3:
    accesskey: "{access}"
    secretkey: "{secret}"
    region: {region}
    regionendpoint: {endpoint}
    bucket: {bucket}
    secure: false
    v4auth: true
    chunksize: 8388608
    rootdirectory: /distribution
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
  redirect:
    disable: true
http:
  addr: 127.0.0.1:{port}
"""


def s3_env() -> dict[str, str]:
    keys = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    if not all(os.environ.get(k) for k in keys):
        raise SystemExit('needs the S3 store: eval "$(bash ../shared/s3/start.sh)"')
    return {k: os.environ[k] for k in keys}


def make_bucket(env: dict[str, str]) -> str:
    from dockyard.storage.s3 import S3Options, make_client

    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    options = S3Options(bucket=bucket, endpoint_url=env["AWS_ENDPOINT_URL"], region=env["AWS_DEFAULT_REGION"],
                        access_key_id=env["AWS_ACCESS_KEY_ID"], secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    make_client(options).create_bucket(Bucket=bucket)
    return bucket


@contextmanager
def postgres(dockyard_bin: str, env: dict[str, str]) -> Iterator[str]:
    import psycopg

    admin = os.environ.get("DOCKYARD_TEST_POSTGRES_URL") or sys.exit('needs: eval "$(bash .ci/postgres.sh)"')
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = f"{admin.rpartition('/')[0]}/{name}"
    try:
        subprocess.run([dockyard_bin, "migrate"], env={**os.environ, **env, "DOCKYARD_DATABASE_URL": url},
                       check=True, capture_output=True)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def dockyard(binary: str, data: Path, env: dict[str, str]) -> servers.Server:
    port = servers.free_port()
    data.mkdir(parents=True, exist_ok=True)
    argv = [binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data)]
    quiet = {"DOCKYARD_LOG_LEVEL": "error", "DOCKYARD_AUTH": "none", "DOCKYARD_ACCESS_LOG": "off"}
    return servers.Server(data.name, argv, port, data.parent, env={**quiet, **env})


def distribution(binary: str, workdir: Path, s3: dict[str, str], bucket: str) -> servers.Server:
    port = servers.free_port()
    config = workdir / "distribution-s3.yml"
    config.write_text(DISTRIBUTION_S3.format(
        access=s3["AWS_ACCESS_KEY_ID"], secret=s3["AWS_SECRET_ACCESS_KEY"], region=s3["AWS_DEFAULT_REGION"],
        endpoint=s3["AWS_ENDPOINT_URL"], bucket=bucket, port=port))
    # AWS_CA_BUNDLE (set on some machines) makes aws-sdk-go panic over a plain-http endpoint.
    return servers.Server("distribution-s3", [binary, "serve", str(config)], port, workdir,
                          env={"AWS_CA_BUNDLE": ""})


def measure(reps: int, rows: dict[str, Callable[[int], Sample]]) -> dict[str, list[float]]:
    """Each repetition runs every side once, in turn, so load from elsewhere hits all alike."""
    values: dict[str, list[float]] = {name: [] for name in rows}
    for rep in range(reps):
        for name, work in rows.items():
            values[name].append(work(rep).value)
            console.log(f"{name} rep {rep}: {values[name][-1]:,.1f} MB/s")
    return values


def run(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir or f"/tmp/dockyard-bench-topology-{uuid.uuid4().hex[:8]}")
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return _run(args, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, workdir: Path) -> int:
    s3 = s3_env()
    blobs = [make_blob(workdir / f"blob-{i}.bin", args.size_mib * MIB) for i in range(2 * args.reps + 1)]
    buckets = [make_bucket(s3), make_bucket(s3)]  # Dockyard's, distribution's
    shared = {"DOCKYARD_STORAGE": "s3", "DOCKYARD_S3_BUCKET": buckets[0], "DOCKYARD_BUILD_EMBEDDED_WORKER": "false"}
    with postgres(args.dockyard_bin, shared) as url, ExitStack() as stack:  # servers stop first
        for bucket in buckets:
            stack.callback(remove_bucket, s3, bucket)
        started: list[servers.Server] = []
        stack.callback(lambda: [s.stop() for s in started])
        replicas = [dockyard(args.dockyard_bin, workdir / f"replica-{i}", {**shared, "DOCKYARD_DATABASE_URL": url})
                    for i in range(2)]
        folder = dockyard(args.dockyard_bin, workdir / "folder", {"DOCKYARD_ACCEL_REDIRECT": "/internal-blobs/"})
        dist = distribution(args.registry_bin, workdir, s3, buckets[1])
        dist_folder = servers.distribution(args.registry_bin, workdir)  # context: the same disk as ours
        for server in [dist, dist_folder, *replicas, folder]:
            console.log(f"starting {server.name}")
            server.start(timeout=120)
            started.append(server)
        front = stack.enter_context(Nginx(workdir / "nginx", [f"127.0.0.1:{r.port}" for r in replicas]))
        accel = stack.enter_context(Nginx(workdir / "accel", [f"127.0.0.1:{folder.port}"],
                                          blob_root=workdir / "folder" / "storage"))
        assert front._process is not None and accel._process is not None
        t_front = Target("dockyard-replicas", front.url, front._process.pid, {})
        t_accel = Target("dockyard-accel", accel.url, accel._process.pid, {})
        t_dist = Target("distribution-s3", dist.base, dist.pid, {})
        t_disk = Target("distribution", dist_folder.base, dist_folder.pid, {})
        clients = {t.name: t.client() for t in (t_front, t_accel, t_dist, t_disk)}

        def push(t: Target, offset: int) -> Callable[[int], Sample]:
            return lambda rep: push_monolithic(t, clients[t.name], "bench/push", blobs[2 * rep + offset])

        pushes = measure(args.reps, {"push: dockyard, nginx, 2 replicas, PostgreSQL + S3": push(t_front, 0),
                                     "push: distribution 2.8.2, S3": push(t_dist, 1)})
        layer: Blob = blobs[-1]
        for t in (t_accel, t_dist, t_disk):
            push_monolithic(t, clients[t.name], "bench/pull", layer)
        pulls = measure(args.reps, {
            "pull: dockyard, nginx X-Accel-Redirect, folder": lambda _: pull(t_accel, clients["dockyard-accel"], "bench/pull", layer),
            "pull: distribution 2.8.2, S3": lambda _: pull(t_dist, clients["distribution-s3"], "bench/pull", layer),
            "pull: distribution 2.8.2, folder": lambda _: pull(t_disk, clients["distribution"], "bench/pull", layer),
        })
        for client in clients.values():
            client.close()
    results = {"size_mib": args.size_mib, "reps": args.reps, "loadavg": os.getloadavg(), "MB/s": {**pushes, **pulls}}
    table = ["| row | Dockyard MB/s | distribution MB/s | ratio |", "|---|---:|---:|---:|"]
    ours_pull, s3_pull, disk_pull = pulls.values()
    for what, ours, theirs in (("push through nginx, 2 replicas, PostgreSQL + S3 (vs distribution on S3)", *pushes.values()),
                               ("pull through nginx, X-Accel-Redirect (vs distribution on S3)", ours_pull, s3_pull),
                               ("pull through nginx, X-Accel-Redirect (vs distribution on a folder, direct)", ours_pull, disk_pull)):
        a, b = sorted(ours)[len(ours) // 2], sorted(theirs)[len(theirs) // 2]
        table.append(f"| {what} | {a:,.1f} | {b:,.1f} | {a / b:.2f}x |")
    print("\n".join(table))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"topology-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    console.log(f"wrote {out}")
    return 0
