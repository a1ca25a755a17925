"""Garbage collection racing real pushes: docker and skopeo push images that share layers with
images just deleted, while the server's janitor collects every second with no grace period.

Every push a client saw succeed must pull whole afterwards (skopeo copies it out, verifying each
digest); a push may fail, but only cleanly, with the error a collected blob gives. At the end,
after one more collection by `dockyard gc`, the blob store holds exactly the blobs the remaining
tags use: bytes on disk, not only rows.

DOCKYARD_GC_ROUNDS sets the number of rounds (default 6, for CI time; README.md records a longer
run) and DOCKYARD_GC_SEED the seed, to replay a failure.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.access.helpers import cli_here
from tests.conftest import OPEN_REGISTRY, Cli, DockyardServer

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.skopeo]

ROUNDS = int(os.environ.get("DOCKYARD_GC_ROUNDS", "6"))
# What a push racing the collector may fail with (docker's and containers/image's wording):
# "unknown blob" is the distribution client's own error for a 404 on a blob docker had pushed or
# found a moment before (the collector took it), which it prints instead of the registry's message.
CLEAN_FAILURES = (
    "blob unknown",
    "unknown blob",
    "manifest blob unknown",
    "blob upload invalid",
    "garbage-collected",
)
MANIFEST_TYPES = ",".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    ]
)


@pytest.fixture
def collecting(tmp_path: Path) -> Iterator[DockyardServer]:
    env = {**OPEN_REGISTRY, "DOCKYARD_GC_INTERVAL_SECONDS": "1", "DOCKYARD_GC_GRACE_SECONDS": "0"}
    with DockyardServer(tmp_path / "data", env=env) as server:
        yield server


def _build(docker: Cli, base: str, context: Path, tag: str, shared: Path, unique: bytes) -> None:
    context.mkdir()
    shutil.copy2(shared, context / "shared")  # same bytes and mtime: the same layer every time
    (context / "unique").write_bytes(unique)
    (context / "Dockerfile").write_text(f"FROM {base}\nCOPY shared /shared\nCOPY unique /unique\n")
    docker("build", "-q", "-t", tag, str(context))


def _clean(result: subprocess.CompletedProcess[str]) -> bool:
    text = (result.stdout + result.stderr).lower()
    return any(words in text for words in CLEAN_FAILURES)


def _copy(skopeo: Cli, source: str, dest: str) -> subprocess.CompletedProcess[str]:
    tls = ("--src-tls-verify=false", "--dest-tls-verify=false")
    return skopeo("copy", *tls, f"docker://{source}", f"docker://{dest}", check=False, timeout=120)


def _pulls_whole(skopeo: Cli, reference: str, into: Path) -> None:
    skopeo("copy", "--src-tls-verify=false", f"docker://{reference}", f"dir:{into}")


def _used_blobs(server: DockyardServer, repository: str, tag: str) -> dict[str, int]:
    response = httpx.get(
        f"{server.url}/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES}, timeout=30
    )
    response.raise_for_status()
    manifest = json.loads(response.content)
    descriptors = [manifest["config"], *manifest["layers"]]
    return {d["digest"]: d["size"] for d in descriptors}


def _on_disk(server: DockyardServer) -> dict[str, int]:
    root = server.data_dir / "storage" / "blobs"
    return {f"{p.parts[-4]}:{p.parts[-2]}": p.stat().st_size for p in root.rglob("data")}


def _dockyard(server: DockyardServer, *args: str) -> str:
    """The operator's command against the server's data folder, run by the CLI app in this process
    (the executable itself is tested in tests/accounts/test_cli.py); its output."""
    return cli_here(server.data_dir, *args).stdout


def _janitor_freed(server: DockyardServer, within: float = 20.0) -> int:
    """Blobs the janitor's runs deleted, waiting a few of its 1 s rounds for the last deletion."""
    deadline = time.monotonic() + within
    while True:
        with contextlib.closing(sqlite3.connect(server.data_dir / "dockyard.db")) as db:
            (freed,) = db.execute(
                "SELECT sum(blobs_deleted) FROM gc_runs WHERE \"trigger\" = 'janitor'"
            ).fetchone()
        if freed or time.monotonic() > deadline:
            return int(freed or 0)
        time.sleep(0.5)


def test_pushes_racing_the_collector_pull_whole_and_garbage_is_gone(
    collecting: DockyardServer, docker_cli: Cli, skopeo_cli: Cli, base_image: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("DOCKYARD_GC_SEED", time.time_ns() % 10_000))
    rng = random.Random(seed)
    started = time.monotonic()
    host = collecting.host
    shared = [tmp_path / f"shared{i}" for i in range(2)]
    for path in shared:
        path.write_bytes(os.urandom(64 * 1024))
    local = f"dockyard-ops-gc-{seed}-{os.urandom(4).hex()}"  # the engine is shared: never another's
    images = [f"{local}:{n}" for n in range(ROUNDS)]
    for n, image in enumerate(images):
        _build(docker_cli, base_image, tmp_path / f"ctx{n}", image, rng.choice(shared), os.urandom(32 * 1024))

    pushed: list[tuple[str, str]] = []  # (repository, tag) the client saw succeed
    origin: dict[tuple[str, str], int] = {}  # which local image each pushed tag holds
    failed = succeeded = 0  # pushes and copies, retries included
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            for n, image in enumerate(images):
                target = f"{host}/gc/app:r{n}"
                docker_cli("tag", image, target)
                push = functools.partial(docker_cli, "push", target, check=False, timeout=120)
                work: list[tuple[Callable[[], subprocess.CompletedProcess[str]], tuple[str, str]]]
                work = [(push, ("gc/app", f"r{n}"))]
                source = rng.choice(pushed) if pushed else None
                if source is not None:  # skopeo copies an earlier image into another repository
                    copy = functools.partial(
                        _copy, skopeo_cli, f"{host}/{source[0]}:{source[1]}", f"{host}/gc/copy:r{n}"
                    )
                    work.append((copy, ("gc/copy", f"r{n}")))
                jobs = [(pool.submit(run), run, made) for run, made in work]
                victims = [item for item in pushed if item != source]
                # Prefer a victim with no surviving copy, so that its layers really become garbage.
                alone = [v for v in victims if [origin[p] for p in pushed].count(origin[v]) == 1]
                victims = alone or victims
                if victims:  # delete another image: its layers become garbage mid-push
                    repo, tag = victims[rng.randrange(len(victims))]
                    pushed.remove((repo, tag))
                    httpx.delete(f"{collecting.url}/v2/{repo}/manifests/{tag}", timeout=30)
                for job, again, made in jobs:
                    result = job.result()
                    if result.returncode != 0 and _clean(result):  # as a user would: once more
                        failed += 1
                        result = again()
                    if result.returncode == 0:
                        succeeded += 1
                        pushed.append(made)
                        origin[made] = origin[source] if source and made[0] == "gc/copy" else n
                    else:
                        assert _clean(result), (
                            f"seed {seed}: a push failed uncleanly:\n{result.stdout}\n{result.stderr}"
                        )
                        failed += 1
                for repo, tag in pushed:  # everything the clients saw succeed still pulls whole
                    _pulls_whole(
                        skopeo_cli,
                        f"{host}/{repo}:{tag}",
                        tmp_path / f"pull-{n}-{repo.replace('/', '-')}-{tag}",
                    )
    finally:
        docker_cli("rmi", "-f", *images, *(f"{host}/gc/app:r{n}" for n in range(ROUNDS)), check=False)

    took = time.monotonic() - started
    print(
        f"seed {seed}, {ROUNDS} rounds, {took:.0f} s: {succeeded} pushes succeeded, {failed} failed cleanly"
    )
    assert len(pushed) >= 2, f"seed {seed}: too few pushes succeeded ({failed} failed)"
    assert _janitor_freed(collecting), "the janitor's collector never freed the deleted images' layers"
    assert "garbage collection freed" in _dockyard(collecting, "gc", "--grace-seconds", "0")
    used: dict[str, int] = {}
    for repo, tag in pushed:
        used.update(_used_blobs(collecting, repo, tag))
    assert _on_disk(collecting) == used, f"seed {seed}"


@pytest.fixture(scope="module")
def ops_server(tmp_path_factory: pytest.TempPathFactory, template_database: Path) -> Iterator[DockyardServer]:
    """One open server for the tests below (stopped, and checked for a clean exit, after them): each
    works in a namespace of its own (quota, retention and immutability are set per namespace or
    repository), and whatever one leaves is no garbage of another's."""
    data = tmp_path_factory.mktemp("ops-docker") / "data"
    with DockyardServer(data, env=OPEN_REGISTRY, template=template_database) as server:
        yield server


def test_docker_cannot_move_an_immutable_tag(
    ops_server: DockyardServer, docker_cli: Cli, base_image: str, tmp_path: Path
) -> None:
    target = f"{ops_server.host}/opsfixed/immutable:v1"
    images = [f"dockyard-ops-immutable-{tmp_path.name}:{n}" for n in range(2)]
    shared = tmp_path / "shared"
    shared.write_bytes(os.urandom(1024))
    try:
        for n, image in enumerate(images):
            _build(docker_cli, base_image, tmp_path / f"ctx{n}", image, shared, os.urandom(1024))
        docker_cli("tag", images[0], target)
        docker_cli("push", target)
        _dockyard(ops_server, "repo", "immutable", "opsfixed/immutable")
        docker_cli("tag", images[1], target)
        refused = docker_cli("push", target, check=False)
        assert refused.returncode != 0
        assert "denied: tag v1 is immutable" in refused.stdout + refused.stderr
        docker_cli("tag", images[1], f"{ops_server.host}/opsfixed/immutable:v2")
        docker_cli("push", f"{ops_server.host}/opsfixed/immutable:v2")  # a new tag is fine
    finally:
        docker_cli("rmi", "-f", *images, target, f"{ops_server.host}/opsfixed/immutable:v2", check=False)


def test_docker_push_over_a_quota_is_refused_and_fits_after_delete_and_gc(
    ops_server: DockyardServer, docker_cli: Cli, base_image: str, tmp_path: Path
) -> None:
    host = ops_server.host
    images = [f"dockyard-ops-quota-{tmp_path.name}:{n}" for n in range(2)]
    targets = [f"{host}/opsquota/first:v1", f"{host}/opsquota/second:v1"]
    shared = tmp_path / "shared"
    shared.write_bytes(os.urandom(1024))
    try:
        for n, image in enumerate(images):
            _build(docker_cli, base_image, tmp_path / f"ctx{n}", image, shared, os.urandom(200 * 1024))
            docker_cli("tag", image, targets[n])
        docker_cli("push", targets[0])
        used = int(_dockyard(ops_server, "quota", "show", "opsquota").rsplit("(", 1)[1].split()[0])
        _dockyard(ops_server, "quota", "set", "opsquota", str(used + 100 * 1024))
        refused = docker_cli("push", targets[1], check=False)
        assert refused.returncode != 0
        assert "denied: quota exceeded: used" in refused.stdout + refused.stderr
        _dockyard(ops_server, "repo", "delete", "opsquota/first")
        assert "freed" in _dockyard(ops_server, "gc", "--grace-seconds", "0")
        docker_cli("push", targets[1])  # the same push, now within the quota
    finally:
        docker_cli("rmi", "-f", *images, *targets, check=False)


def test_docker_pushes_then_retention_previews_and_deletes_the_same_tags(
    ops_server: DockyardServer, docker_cli: Cli, base_image: str, tmp_path: Path
) -> None:
    """Retention through the real docker CLI: the preview lists exactly what apply deletes; the
    deleted tag no longer pulls, the kept one does, and the next collection frees the bytes only
    the deleted one used."""
    host = ops_server.host
    images = [f"dockyard-ops-retention-{tmp_path.name}:{n}" for n in range(2)]
    targets = [f"{host}/opskeep/kept:v1", f"{host}/opskeep/kept:v2"]
    shared = tmp_path / "shared"
    shared.write_bytes(os.urandom(1024))
    try:
        for n, image in enumerate(images):
            _build(docker_cli, base_image, tmp_path / f"ctx{n}", image, shared, os.urandom(64 * 1024))
            docker_cli("tag", image, targets[n])
            docker_cli("push", targets[n])
        _dockyard(ops_server, "retention", "set", "opskeep", "--keep-last", "1")
        preview = _dockyard(ops_server, "retention", "preview", "opskeep")
        listed = [line.split()[0] for line in preview.splitlines() if line.startswith("opskeep/")]
        assert listed == ["opskeep/kept:v1"]
        applied = _dockyard(ops_server, "retention", "apply", "opskeep")
        assert [line.split()[0] for line in applied.splitlines() if line.startswith("opskeep/")] == listed
        before = sum(_on_disk(ops_server).values())
        assert "freed" in _dockyard(ops_server, "gc", "--grace-seconds", "0")
        assert sum(_on_disk(ops_server).values()) < before
        docker_cli("rmi", "-f", *targets, check=False)
        assert docker_cli("pull", targets[0], check=False).returncode != 0
        docker_cli("pull", targets[1])
    finally:
        docker_cli("rmi", "-f", *images, *targets, check=False)
