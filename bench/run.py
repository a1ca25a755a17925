"""Benchmark Dockyard against distribution 2.8.2 (Debian's ``docker-registry``) on loopback.

    .venv/bin/python bench/run.py [--size-mib 256] [--quick] [--only distribution|dockyard]

Both registries get the same workload, one after the other (never at once: they would share the two
cores), each on fresh storage. Every workload checks its own result and aborts on a wrong status,
size or digest. Results go to ``bench/results/`` as JSON and Markdown; see ``bench/README.md``.
This is a benchmark, not a test: CI never runs it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import auth, procstat, rates, report, servers
from benchlib.errors import WorkloadFailed
from benchlib.http import Client
from benchlib.workloads import (
    Sample,
    Target,
    make_blob,
    peak_rss,
    pull,
    push_chunked,
    push_monolithic,
    push_test_image,
    put_tags,
    verify_pull,
)
from rich.console import Console

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
MIB = 1 << 20
IDLE_CORES = 0.25  # "idle" for --wait-idle: fewer busy cores than this, outside the benchmark
console = Console(stderr=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-mib", type=int, default=256, help="blob size for push/pull rates")
    p.add_argument("--chunk-mib", type=int, default=8, help="PATCH size for the chunked push")
    p.add_argument("--rss-mib", type=int, default=1024, help="blob size for the peak-RSS workload")
    p.add_argument("--reps", type=int, default=3, help="blob push/pull repetitions (median reported)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    p.add_argument("--tags", type=int, default=1000, help="tag PUTs")
    p.add_argument("--tag-workers", type=int, default=8, help="threads (connections) for tag PUTs")
    p.add_argument("--quick", action="store_true", help="small sizes and short runs: a smoke test")
    p.add_argument("--only", choices=["distribution", "dockyard"], help="benchmark one server only")
    p.add_argument("--dockyard-bin", default=str(REPO / ".venv/bin/dockyard"))
    p.add_argument("--dockyard-args", default="", help="extra arguments for `dockyard serve` (one string)")
    p.add_argument("--dockyard-auth", choices=["none", "token"], default="none",
                   help="none: open, like distribution here (default); token: log in and send a bearer "
                   "token with every request, to measure what auth costs")
    p.add_argument("--registry-bin", default="/usr/bin/docker-registry")
    p.add_argument("--workdir", type=Path, help="where test data and server storage go (default: a temp dir)")
    p.add_argument("--wait-idle", type=float, default=300, metavar="SECONDS",
                   help="before each server, wait up to this long for the machine to be idle (0: don't)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--results-dir", type=Path, default=BENCH / "results")
    args = p.parse_args(argv)
    if args.quick:
        args.size_mib, args.rss_mib, args.reps = min(args.size_mib, 32), min(args.rss_mib, 128), 1
        args.duration, args.tags = min(args.duration, 2.0), min(args.tags, 200)
    return args


class Data:
    """Test blobs, generated and hashed once before any server starts; each push gets fresh bytes."""

    def __init__(self, workdir: Path, args: argparse.Namespace) -> None:
        size = args.size_mib * MIB
        self.mono = [make_blob(workdir / f"mono-{i}.bin", size) for i in range(args.reps)]
        self.chunked = [make_blob(workdir / f"chunked-{i}.bin", size) for i in range(args.reps)]
        self.big = make_blob(workdir / "rss.bin", args.rss_mib * MIB)


def median_sample(samples: list[Sample]) -> Sample:
    return sorted(samples, key=lambda s: s.value)[len(samples) // 2]


class Run:
    """One server's pass over every workload, collecting metrics and CPU shares."""

    def __init__(self, target: Target, args: argparse.Namespace, data: Data, workdir: Path,
                 loadgen: Path) -> None:
        self.t, self.args, self.data, self.workdir, self.loadgen = target, args, data, workdir, loadgen
        self.c: Client = target.client()
        self.metrics: dict[str, float] = {}
        self.cpu: dict[str, dict[str, float]] = {}
        self.extra: dict[str, Any] = {}

    def record(self, key: str, samples: list[Sample]) -> None:
        s = median_sample(samples)
        self.metrics[key] = s.value
        self.cpu[key] = {"server": s.server_cpu, "client": s.client_cpu, "machine": s.machine_cpu,
                         "wall": s.wall}
        self.extra[key] = [x.value for x in samples]
        spread = ", ".join(f"{x.value:,.1f}" for x in samples)
        console.log(f"[{self.t.name}] {key}: {s.value:,.1f} ({spread}); cores: server {s.server_cpu:.2f}, "
                    f"client {s.client_cpu:.2f}, machine {s.machine_cpu:.2f}", markup=False)

    def all(self) -> dict[str, Any]:
        self.blobs()
        self.manifests()
        self.tag_puts()
        self.memory()
        self.c.close()
        return {"metrics": self.metrics, "cpu": self.cpu, "extra": self.extra}

    def blobs(self) -> None:
        repo, chunk = "bench/blobs", self.args.chunk_mib * MIB
        self.record("push_mono", [push_monolithic(self.t, self.c, repo, b) for b in self.data.mono])
        self.record("push_chunked", [push_chunked(self.t, self.c, repo, b, chunk) for b in self.data.chunked])
        blob = self.data.mono[0]
        self.record("pull", [pull(self.t, self.c, repo, blob) for _ in range(self.args.reps)])
        for b in [*self.data.mono, *self.data.chunked]:
            verify_pull(self.t, self.c, repo, b)

    def manifests(self) -> None:
        """HEAD (loadgen) and GET (wrk) by tag at c=1 and c=16; loadgen GET is logged as calibration."""
        repo, tag = "bench/manifests", "latest"
        push_test_image(self.t, self.c, repo, tag)
        path, seconds = f"/v2/{repo}/manifests/{tag}", self.args.duration
        for conc in (1, 16):
            for method in ("HEAD", "GET"):
                self.rate(method, path, conc, 1.0)  # warm-up, discarded
                r = self.rate(method, path, conc, seconds)
                key = f"manifest_{method.lower()}_c{conc}"
                self.metrics |= {f"{key}_rps": r.rps, f"{key}_p50": r.p50_ms, f"{key}_p99": r.p99_ms}
                self.cpu[f"{key}_rps"] = {"server": r.server_cpu, "client": r.client_cpu,
                                          "machine": r.machine_cpu, "wall": r.wall}
            cal = rates.loadgen(self.t, self.loadgen, "GET", path, conc, max(1.0, seconds / 2))
            self.log_rate(cal, "GET", conc)
            self.extra[f"loadgen_get_c{conc}"] = vars(cal)

    def rate(self, method: str, path: str, conc: int, seconds: float) -> rates.RateResult:
        if method == "HEAD":
            r = rates.loadgen(self.t, self.loadgen, method, path, conc, seconds)
        else:
            r = rates.wrk(self.t, self.workdir, method, path, conc, seconds)
        self.log_rate(r, method, conc)
        return r

    def log_rate(self, r: rates.RateResult, method: str, conc: int) -> None:
        console.log(f"[{self.t.name}] {r.tool} {method} c={conc}: {r.rps:,.0f} req/s, p50 {r.p50_ms:.2f} ms, "
                    f"p99 {r.p99_ms:.2f} ms ({r.requests} requests); cores: server {r.server_cpu:.2f}, "
                    f"client {r.client_cpu:.2f}, machine {r.machine_cpu:.2f}", markup=False)

    def tag_puts(self) -> None:
        repo = "bench/tags"
        manifest = push_test_image(self.t, self.c, repo, "seed")
        self.record("tag_put", [put_tags(self.t, self.c, repo, manifest, self.args.tags,
                                         self.args.tag_workers)])

    def memory(self) -> None:
        s = peak_rss(self.t, self.c, "bench/memory", self.data.big)
        self.metrics["peak_rss"] = s.value
        self.extra["peak_rss"] = s.extra
        x = s.extra or {}
        procs = "; ".join(f"pid {p['pid']} {p['rss_mb']:.0f} MB (peak {p['hwm_mb']:.0f}) {p['cmd'][:60]}"
                          for p in x["processes_after"])
        console.log(f"[{self.t.name}] peak RSS {s.value:,.1f} MB (PSS {x['peak_pss_mb']:.1f}, idle RSS "
                    f"{x['idle_rss_mb']:.1f}) during {self.args.rss_mib} MiB push at {x['push_mb_s']:.0f} "
                    f"MB/s + pull at {x['pull_mb_s']:.0f} MB/s; {procs}", markup=False)


def make_server(name: str, args: argparse.Namespace, workdir: Path) -> servers.Server:
    if name == "distribution":
        return servers.distribution(args.registry_bin, workdir)
    return servers.dockyard(args.dockyard_bin, workdir, shlex.split(args.dockyard_args), args.dockyard_auth)


def headers_for(name: str, args: argparse.Namespace, base: str) -> dict[str, str]:
    if name == "dockyard" and args.dockyard_auth == "token":
        return auth.bearer_headers(base)
    return {}


def bench_one(name: str, args: argparse.Namespace, data: Data, workdir: Path,
              loadgen: Path) -> dict[str, Any]:
    if args.wait_idle > 0:
        busy = procstat.wait_until_idle(IDLE_CORES, args.wait_idle)
        if busy >= IDLE_CORES:
            console.log(f"warning: the machine stayed busy ({busy:.2f} cores) for {args.wait_idle:.0f}s; "
                        f"benchmarking {name} anyway, expect noise", markup=False)
    server = make_server(name, args, workdir)
    console.log(f"starting {name}: {shlex.join(server.argv)}")
    server.start()
    try:
        target = Target(name, server.base, server.pid, headers_for(name, args, server.base))
        try:
            return Run(target, args, data, workdir, loadgen).all()
        except (OSError, http.client.HTTPException) as exc:
            raise WorkloadFailed(name, "a request", f"{type(exc).__name__}: {exc}") from exc
    except WorkloadFailed:
        console.log(f"[{name}] server log tail:\n{server.log_tail()}", markup=False)
        raise
    finally:
        server.stop()


def write_results(results: dict[str, Any], md: str, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    suffix = "-quick" if results["params"]["quick"] else ""
    js, mdp = out_dir / f"bench-{stamp}{suffix}.json", out_dir / f"bench-{stamp}{suffix}.md"
    js.write_text(json.dumps(results, indent=2) + "\n")
    mdp.write_text(md)
    return js, mdp


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [args.only] if args.only else ["distribution", "dockyard"]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "machine": report.machine_info(REPO, args.registry_bin),
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "servers": {},
    }
    try:
        t0 = time.perf_counter()
        loadgen = rates.build_loadgen(workdir)
        data = Data(workdir, args)
        console.log(f"generated and hashed test data in {time.perf_counter() - t0:.1f}s under {workdir}")
        for name in names:
            results["servers"][name] = bench_one(name, args, data, workdir, loadgen)
    except WorkloadFailed as exc:
        console.print("[bold red]ABORTED: a workload failed, no numbers reported.[/]")
        console.print(str(exc), markup=False)
        return 2
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    defs = report.metrics(args.size_mib, args.chunk_mib, args.rss_mib, args.tags, args.tag_workers)
    report.print_rich(defs, results, Console(width=max(Console().width, 130)))
    md = report.markdown(defs, results)
    js, mdp = write_results(results, md, args.results_dir)
    print("\n" + md)
    console.log(f"wrote {js} and {mdp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
