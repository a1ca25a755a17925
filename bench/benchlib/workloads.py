"""The workloads, each run the same way against either registry and each checking its own result.

Every function raises ``WorkloadFailed`` on a wrong status, size or digest, so a broken server
aborts the run instead of producing a fast number. Timed sections hold only the HTTP exchange:
test data is generated and hashed beforehand.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import resource
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import WorkloadFailed
from .http import Client, Response, expect, with_query
from .procstat import CpuMeter, RssSampler, breakdown, hwm_bytes, rss_bytes, tree

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MB = 1_000_000


@dataclass(frozen=True)
class Target:
    """A running registry: its name, base URL, the pid whose process tree is measured, any auth headers."""

    name: str
    base: str
    pid: int
    headers: dict[str, str]

    def client(self) -> Client:
        return Client(self.base, self.name, self.headers)


@dataclass(frozen=True)
class Blob:
    path: Path
    size: int
    digest: str


@dataclass
class Sample:
    """One measured section: the value, plus cores used by the server, the client and the machine."""

    value: float
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_cpu: float = 0.0
    kernel_cpu: float = 0.0  # interrupts and kernel threads (part of machine_cpu)
    wall: float = 0.0  # seconds measured; CPU shares of very short sections are coarse (10 ms ticks)
    extra: dict[str, Any] | None = None


def make_blob(path: Path, size: int, piece: int = 8 << 20) -> Blob:
    """Random (incompressible) bytes written to ``path`` and hashed in the same pass."""
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            data = os.urandom(min(piece, left))
            f.write(data)
            digest.update(data)
            left -= len(data)
    return Blob(path, size, "sha256:" + digest.hexdigest())


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _location(resp: Response, server: str, what: str) -> str:
    loc = resp.header("location")
    if not loc:
        raise WorkloadFailed(server, what, "no Location header\n" + resp.describe())
    return loc


def _check_committed(t: Target, c: Client, repo: str, blob: Blob, resp: Response, what: str) -> None:
    got = resp.header("docker-content-digest")
    if got is not None and got != blob.digest:
        raise WorkloadFailed(t.name, what, f"Docker-Content-Digest {got} != {blob.digest}\n"
                             + resp.describe())
    head = expect(c.request("HEAD", f"/v2/{repo}/blobs/{blob.digest}"), t.name,
                  f"HEAD blob after {what}", 200)
    if head.header("content-length") != str(blob.size):
        raise WorkloadFailed(t.name, f"HEAD blob after {what}",
                             f"Content-Length != {blob.size}\n" + head.describe())


def push_monolithic(t: Target, c: Client, repo: str, blob: Blob) -> Sample:
    """POST an upload session, then PUT ?digest= with the whole blob as the body."""
    what = f"monolithic push of {blob.size} bytes"
    with open(blob.path, "rb") as f, CpuMeter(t.pid) as cpu:
        cpu0, t0 = time.process_time(), time.perf_counter()
        post = expect(c.request("POST", f"/v2/{repo}/blobs/uploads/"), t.name, f"{what}: POST", 202)
        loc = c.path_of(_location(post, t.name, what))
        put = c.send_file("PUT", with_query(loc, digest=blob.digest), f, 0, blob.size)
        seconds = time.perf_counter() - t0
        client = time.process_time() - cpu0
    expect(put, t.name, f"{what}: PUT ?digest=", 201)
    _check_committed(t, c, repo, blob, put, what)
    return Sample(blob.size / MB / seconds, cpu.share, client / seconds, cpu.machine,
                  kernel_cpu=cpu.kernel, wall=cpu.wall)


def push_chunked(t: Target, c: Client, repo: str, blob: Blob, chunk: int) -> Sample:
    """POST, one PATCH per chunk with Content-Range, then an empty PUT ?digest=."""
    what = f"chunked push of {blob.size} bytes in {chunk}-byte chunks"
    with open(blob.path, "rb") as f, CpuMeter(t.pid) as cpu:
        cpu0, t0 = time.process_time(), time.perf_counter()
        resp = expect(c.request("POST", f"/v2/{repo}/blobs/uploads/"), t.name, f"{what}: POST", 202)
        loc = c.path_of(_location(resp, t.name, what))
        for start in range(0, blob.size, chunk):
            end = min(start + chunk, blob.size) - 1
            resp = c.send_file("PATCH", loc, f, start, end - start + 1, {"Content-Range": f"{start}-{end}"})
            expect(resp, t.name, f"{what}: PATCH {start}-{end}", 202)
            if resp.header("range") != f"0-{end}":
                raise WorkloadFailed(t.name, f"{what}: PATCH {start}-{end}",
                                     f"Range header should be 0-{end}\n" + resp.describe())
            loc = c.path_of(_location(resp, t.name, what))
        put = c.request("PUT", with_query(loc, digest=blob.digest), b"")
        seconds = time.perf_counter() - t0
        client = time.process_time() - cpu0
    expect(put, t.name, f"{what}: PUT ?digest=", 201)
    _check_committed(t, c, repo, blob, put, what)
    return Sample(blob.size / MB / seconds, cpu.share, client / seconds, cpu.machine,
                  kernel_cpu=cpu.kernel, wall=cpu.wall)


def pull(t: Target, c: Client, repo: str, blob: Blob) -> Sample:
    """GET the blob, splicing the bytes into /dev/null; times connect to last byte."""
    path = f"/v2/{repo}/blobs/{blob.digest}"
    with CpuMeter(t.pid) as cpu:
        cpu0, t0 = time.process_time(), time.perf_counter()
        resp = c.get_discard(path)
        seconds = time.perf_counter() - t0
        client = time.process_time() - cpu0
    expect(resp, t.name, f"GET {path}", 200)
    if int(resp.headers["x-bench-bytes-read"]) != blob.size:
        raise WorkloadFailed(t.name, f"GET {path}", f"read {resp.headers['x-bench-bytes-read']} bytes, "
                             f"expected {blob.size}\n" + resp.describe())
    return Sample(blob.size / MB / seconds, cpu.share, client / seconds, cpu.machine,
                  kernel_cpu=cpu.kernel, wall=cpu.wall)


def verify_pull(t: Target, c: Client, repo: str, blob: Blob) -> None:
    """Pull the blob again (untimed) and check that its bytes hash to its digest."""
    digest = hashlib.sha256()
    path = f"/v2/{repo}/blobs/{blob.digest}"
    resp = expect(c.stream_to(path, digest), t.name, f"GET {path} (digest check)", 200)
    got = "sha256:" + digest.hexdigest()
    read = int(resp.headers["x-bench-bytes-read"])
    if got != blob.digest or read != blob.size:
        raise WorkloadFailed(t.name, f"GET {path} (digest check)",
                             f"pulled {read} bytes hashing to {got}; pushed {blob.size} bytes, {blob.digest}")



# --- manifests -------------------------------------------------------------------------------


def push_small_blob(t: Target, c: Client, repo: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    post = expect(c.request("POST", f"/v2/{repo}/blobs/uploads/"), t.name, "POST upload (small blob)", 202)
    loc = c.path_of(_location(post, t.name, "POST upload (small blob)"))
    put = c.request("PUT", with_query(loc, digest=digest), data, {"Content-Type": "application/octet-stream"})
    expect(put, t.name, "PUT small blob", 201)
    return digest


def push_test_image(t: Target, c: Client, repo: str, tag: str) -> bytes:
    """A one-layer OCI image; returns the manifest bytes after checking GET and HEAD by tag."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = os.urandom(2048)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": push_small_blob(t, c, repo, config),
                   "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": push_small_blob(t, c, repo, layer),
                    "size": len(layer)}],
    }, indent=3).encode()
    put = c.request("PUT", f"/v2/{repo}/manifests/{tag}", manifest, {"Content-Type": OCI_MANIFEST})
    expect(put, t.name, f"PUT manifest {repo}:{tag}", 201)
    check_manifest(t, c, repo, tag, manifest)
    return manifest


def check_manifest(t: Target, c: Client, repo: str, ref: str, manifest: bytes) -> None:
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    path = f"/v2/{repo}/manifests/{ref}"
    get = expect(c.request("GET", path, headers={"Accept": OCI_MANIFEST}), t.name, f"GET {path}", 200)
    if get.body != manifest or get.header("docker-content-digest") != digest:
        raise WorkloadFailed(t.name, f"GET {path}", "manifest bytes or digest differ\n" + get.describe())
    head = expect(c.request("HEAD", path, headers={"Accept": OCI_MANIFEST}), t.name, f"HEAD {path}", 200)
    if head.header("docker-content-digest") != digest or head.header("content-length") != str(len(manifest)):
        raise WorkloadFailed(t.name, f"HEAD {path}", "digest or length differ\n" + head.describe())


# --- tags ------------------------------------------------------------------------------------


def put_tags(t: Target, c: Client, repo: str, manifest: bytes,
             count: int, workers: int, prefix: str = "bench") -> Sample:
    """``count`` manifest PUTs by distinct tag from ``workers`` threads, each on its own connection."""
    clients = [t.client() for _ in range(workers)]
    for w in clients:
        expect(w.request("GET", "/v2/"), t.name, "GET /v2/ (warm-up)", 200, 401)
    tags = [f"{prefix}-{i:05d}" for i in range(count)]
    ticket = itertools.count()
    failures: list[Response] = []

    def work(w: Client) -> None:
        while not failures and (i := next(ticket)) < count:
            resp = w.request("PUT", f"/v2/{repo}/manifests/{tags[i]}", manifest,
                             {"Content-Type": OCI_MANIFEST})
            if resp.status != 201:
                failures.append(resp)

    threads = [threading.Thread(target=work, args=(w,)) for w in clients]
    with CpuMeter(t.pid) as cpu:
        cpu0, t0 = time.process_time(), time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - t0
        client = time.process_time() - cpu0
    for w in clients:
        w.close()
    if failures:
        raise WorkloadFailed(t.name, f"PUT manifest by tag ({len(failures)} failed)",
                             "expected HTTP 201\n" + failures[0].describe())
    listed = list_tags(t, c, repo)
    missing = set(tags) - listed
    if missing:
        raise WorkloadFailed(t.name, "GET tags/list after tag PUTs",
                             f"{len(missing)} of {count} tags missing, e.g. {sorted(missing)[:5]}")
    check_manifest(t, c, repo, tags[-1], manifest)
    return Sample(count / seconds, cpu.share, client / seconds, cpu.machine,
                  kernel_cpu=cpu.kernel, wall=cpu.wall)


def list_tags(t: Target, c: Client, repo: str) -> set[str]:
    """Every tag, following ``Link: <...>; rel="next"`` pagination if the server uses it."""
    tags: set[str] = set()
    path: str | None = f"/v2/{repo}/tags/list"
    while path:
        resp = expect(c.request("GET", path), t.name, f"GET {path}", 200)
        tags.update(json.loads(resp.body).get("tags") or [])
        link = resp.header("link")
        path = c.path_of(link.split(";")[0].strip().strip("<>")) if link else None
    return tags


# --- memory ----------------------------------------------------------------------------------


def peak_rss(t: Target, c: Client, repo: str, blob: Blob) -> Sample:
    """Push then pull ``blob`` while sampling the server tree's summed VmRSS every 20 ms."""
    pid = t.pid
    idle, idle_rss = breakdown(tree(pid)), rss_bytes(tree(pid))
    sampler = RssSampler(pid)
    sampler.start()
    try:
        push = push_monolithic(t, c, repo, blob)
        pulled = pull(t, c, repo, blob)
        verify_pull(t, c, repo, blob)
    finally:
        peak = sampler.stop()
    after = breakdown(tree(pid))
    return Sample(peak / MB, extra={
        "idle_rss_mb": idle_rss / MB,
        "peak_pss_mb": sampler.peak_pss / MB,
        "hwm_sum_mb": hwm_bytes(tree(pid)) / MB,
        "processes_idle": idle, "processes_after": after,
        "push_mb_s": push.value, "pull_mb_s": pulled.value, "samples": sampler.samples})
