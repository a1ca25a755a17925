"""Benchmark Dockyard against distribution 2.8.2 (Debian's ``docker-registry``) on loopback.

    .venv/bin/python bench/run.py [--size-mib 256] [--quick] [--only distribution|dockyard]

Both registries run at once, each on fresh storage, and every workload runs on one, then the other,
repetition by repetition: whatever else the machine is doing then hits both alike. Every workload
checks its own result and aborts on a wrong status, size or digest. Results go to
``bench/results/`` as JSON and Markdown; see ``bench/README.md``. This is a benchmark, not a
test: CI never runs it.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchlib import auth, procstat, profile, rates, report, servers
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
IDLE_CORES = 0.25  # "idle" for --wait-idle: fewer busy cores than this
console = Console(stderr=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-mib", type=int, default=256, help="blob size for push/pull rates")
    p.add_argument("--chunk-mib", type=int, default=8, help="PATCH size for the chunked push")
    p.add_argument("--rss-mib", type=int, default=1024, help="blob size for the peak-RSS workload")
    p.add_argument("--reps", type=int, default=3, help="repetitions of blob and tag workloads (median kept)")
    p.add_argument("--rate-reps", type=int, default=1, help="repetitions of each manifest rate run")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per manifest rate run")
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
    p.add_argument("--wait-idle", type=float, default=60, metavar="SECONDS",
                   help="before each workload, wait up to this long for the machine to be idle (0: don't)")
    p.add_argument("--py-spy", metavar="PATH", help="py-spy binary: after measuring, profile each Dockyard "
                   "workload once more into SVG flame graphs in the results directory")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--results-dir", type=Path, default=BENCH / "results")
    p.add_argument("--topology", action="store_true", help="instead: the scale-out rows (bench/topology.py): "
                   "pulls through nginx with X-Accel-Redirect, a push through nginx to two replicas on "
                   "PostgreSQL and S3, each against distribution on the same S3 store")
    p.add_argument("--render", type=Path, metavar="JSON", help="print the Markdown tables of an earlier "
                   "results file and exit")
    args = p.parse_args(argv)
    if args.quick:
        args.size_mib, args.rss_mib, args.reps = min(args.size_mib, 32), min(args.rss_mib, 128), 1
        args.duration, args.tags, args.wait_idle = min(args.duration, 2.0), min(args.tags, 200), 0
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
    """One server's side of the benchmark: its client, and the metrics and CPU shares it collects."""

    def __init__(self, target: Target) -> None:
        self.t = target
        self.c: Client = target.client()
        self.metrics: dict[str, float] = {}
        self.cpu: dict[str, dict[str, float]] = {}
        self.extra: dict[str, Any] = {}

    @property
    def name(self) -> str:
        return self.t.name

    def record(self, key: str, samples: list[Sample]) -> None:
        s = median_sample(samples)
        self.metrics[key] = s.value
        self.cpu[key] = {"server": s.server_cpu, "client": s.client_cpu, "kernel": s.kernel_cpu,
                         "machine": s.machine_cpu, "wall": s.wall}
        self.extra[key] = [x.value for x in samples]
        spread = ", ".join(f"{x.value:,.1f}" for x in samples)
        console.log(f"[{self.name}] {key}: {s.value:,.1f} ({spread}); cores: server {s.server_cpu:.2f}, "
                    f"client {s.client_cpu:.2f}, kernel {s.kernel_cpu:.2f}, machine {s.machine_cpu:.2f}",
                    markup=False)

    def record_rate(self, key: str, results: list[rates.RateResult]) -> None:
        r = sorted(results, key=lambda x: x.rps)[len(results) // 2]
        self.metrics |= {f"{key}_rps": r.rps, f"{key}_p50": r.p50_ms, f"{key}_p99": r.p99_ms}
        self.cpu[f"{key}_rps"] = {"server": r.server_cpu, "client": r.client_cpu,
                                  "kernel": r.kernel_cpu, "machine": r.machine_cpu, "wall": r.wall}
        self.extra[f"{key}_rps"] = [vars(x) for x in results]

    def summary(self) -> dict[str, Any]:
        return {"metrics": self.metrics, "cpu": self.cpu, "extra": self.extra}


def log_rate(name: str, method: str, conc: int, r: rates.RateResult) -> None:
    console.log(f"[{name}] {r.tool} {method} c={conc}: {r.rps:,.0f} req/s, p50 {r.p50_ms:.2f} ms, "
                f"p99 {r.p99_ms:.2f} ms ({r.requests} requests); cores: server {r.server_cpu:.2f}, "
                f"client {r.client_cpu:.2f}, kernel {r.kernel_cpu:.2f}, machine {r.machine_cpu:.2f}"
                + (f"; {r.reconnects} connections closed by the server" if r.reconnects else ""),
                markup=False)


class Bench:
    """Every workload, run on each server in turn, repetition by repetition."""

    def __init__(self, runs: list[Run], args: argparse.Namespace, data: Data, workdir: Path,
                 loadgen: Path) -> None:
        self.runs, self.args, self.data, self.workdir, self.loadgen = runs, args, data, workdir, loadgen

    def quiet(self) -> None:
        if self.args.wait_idle <= 0:
            return
        busy = procstat.wait_until_idle(IDLE_CORES, self.args.wait_idle)
        if busy >= IDLE_CORES:
            console.log(f"warning: the machine stayed busy ({busy:.2f} cores) for "
                        f"{self.args.wait_idle:.0f}s; going on, expect noise (see the CPU table)",
                        markup=False)

    def interleaved(self, key: str, reps: int, one: Callable[[Run, int], Sample]) -> None:
        samples: dict[str, list[Sample]] = {r.name: [] for r in self.runs}
        self.quiet()
        for i in range(reps):
            for r in self.runs:
                samples[r.name].append(one(r, i))
        for r in self.runs:
            r.record(key, samples[r.name])

    def all(self) -> None:
        a, d = self.args, self.data
        blobs, chunk = "bench/blobs", a.chunk_mib * MIB
        self.interleaved("push_mono", a.reps, lambda r, i: push_monolithic(r.t, r.c, blobs, d.mono[i]))
        self.interleaved("push_chunked", a.reps,
                         lambda r, i: push_chunked(r.t, r.c, blobs, d.chunked[i], chunk))
        self.interleaved("pull", a.reps, lambda r, i: pull(r.t, r.c, blobs, d.mono[0]))
        for r in self.runs:
            for b in [*d.mono, *d.chunked]:
                verify_pull(r.t, r.c, blobs, b)
        self.manifests()
        manifests = {r.name: push_test_image(r.t, r.c, "bench/tags", "seed") for r in self.runs}
        self.interleaved("tag_put", a.reps, lambda r, i: put_tags(
            r.t, r.c, "bench/tags", manifests[r.name], a.tags, a.tag_workers, prefix=f"rep{i}"))
        for r in self.runs:
            self.quiet()
            self.memory(r)

    def profiles(self, out_dir: Path, stamp: str) -> None:
        """Each Dockyard workload once more under py-spy (fresh blobs; numbers only logged)."""
        r = next((r for r in self.runs if r.name == "dockyard"), None)
        if r is None or not self.args.py_spy:
            return
        a, blobs, size = self.args, "bench/blobs", self.args.size_mib * MIB
        mono, chunked = (make_blob(self.workdir / f"profile-{k}.bin", size) for k in ("mono", "chunked"))
        path = "/v2/bench/manifests/manifests/latest"
        seed = push_test_image(r.t, r.c, "bench/tags", "seed")
        workloads: list[tuple[str, Callable[[], object]]] = [
            ("push_mono", lambda: push_monolithic(r.t, r.c, blobs, mono)),
            ("push_chunked", lambda: push_chunked(r.t, r.c, blobs, chunked, a.chunk_mib * MIB)),
            ("pull", lambda: [pull(r.t, r.c, blobs, mono) for _ in range(3)]),
            ("manifest_head_c16", lambda: rates.loadgen(r.t, self.loadgen, "HEAD", path, 16, a.duration)),
            ("manifest_get_c16", lambda: rates.wrk(r.t, self.workdir, "GET", path, 16, a.duration)),
            ("tag_put", lambda: put_tags(r.t, r.c, "bench/tags", seed, a.tags, a.tag_workers, prefix="prof")),
        ]
        out_dir.mkdir(parents=True, exist_ok=True)
        for key, work in workloads:
            svg = out_dir / f"profile-{stamp}-{key}.svg"
            try:
                with profile.py_spy(a.py_spy, r.t.pid, svg):
                    work()
            except RuntimeError as exc:  # e.g. no Python frames at all: the work ran in native code
                console.log(f"no py-spy profile of dockyard {key}: {exc}".splitlines()[0], markup=False)
                continue
            console.log(f"py-spy profile of dockyard {key}: {svg}", markup=False)

    def manifests(self) -> None:
        """HEAD (loadgen) and GET (wrk) by tag at c=1 and c=16; loadgen GET is logged as calibration."""
        repo, tag, seconds = "bench/manifests", "latest", self.args.duration
        path = f"/v2/{repo}/manifests/{tag}"
        for r in self.runs:
            push_test_image(r.t, r.c, repo, tag)
        for conc in (1, 16):
            for method in ("HEAD", "GET"):
                results: dict[str, list[rates.RateResult]] = {r.name: [] for r in self.runs}
                self.quiet()
                for _ in range(self.args.rate_reps):
                    for r in self.runs:
                        self.rate(r, method, path, conc, 1.0)  # warm-up, discarded
                        results[r.name].append(self.rate(r, method, path, conc, seconds))
                for r in self.runs:
                    r.record_rate(f"manifest_{method.lower()}_c{conc}", results[r.name])
            for r in self.runs:
                cal = rates.loadgen(r.t, self.loadgen, "GET", path, conc, max(1.0, seconds / 2))
                log_rate(r.name, "GET", conc, cal)
                r.extra[f"loadgen_get_c{conc}"] = vars(cal)

    def rate(self, r: Run, method: str, path: str, conc: int, seconds: float) -> rates.RateResult:
        if method == "HEAD":
            result = rates.loadgen(r.t, self.loadgen, method, path, conc, seconds)
        else:
            result = rates.wrk(r.t, self.workdir, method, path, conc, seconds)
        log_rate(r.name, method, conc, result)
        return result

    def memory(self, r: Run) -> None:
        s = peak_rss(r.t, r.c, "bench/memory", self.data.big)
        r.metrics["peak_rss"] = s.value
        r.extra["peak_rss"] = s.extra
        x = s.extra or {}
        procs = "; ".join(f"pid {p['pid']} {p['rss_mb']:.0f} MB (peak {p['hwm_mb']:.0f}) {p['cmd'][:60]}"
                          for p in x["processes_after"])
        console.log(f"[{r.name}] peak RSS {s.value:,.1f} MB (PSS {x['peak_pss_mb']:.1f}, idle RSS "
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


@contextlib.contextmanager
def running(names: list[str], args: argparse.Namespace, workdir: Path) -> Iterator[list[Run]]:
    """Start every server, yield a Run for each; on a failure, show the failing server's log tail."""
    started: list[servers.Server] = []
    try:
        for name in names:
            server = make_server(name, args, workdir)
            console.log(f"starting {name}: {shlex.join(server.argv)}", markup=False)
            server.start()
            started.append(server)
        runs = [Run(Target(s.name, s.base, s.pid, headers_for(s.name, args, s.base))) for s in started]
        try:
            yield runs
        except (OSError, http.client.HTTPException) as exc:
            raise WorkloadFailed("?", "a request", f"{type(exc).__name__}: {exc}") from exc
        for run in runs:
            run.c.close()
    except WorkloadFailed as exc:
        for s in started:
            if s.name == exc.server or exc.server == "?":
                console.log(f"[{s.name}] server log tail:\n{s.log_tail()}", markup=False)
        raise
    finally:
        for s in started:
            s.stop()


def write_results(results: dict[str, Any], md: str, out_dir: Path, stamp: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if results["params"]["quick"] else ""
    js, mdp = out_dir / f"bench-{stamp}{suffix}.json", out_dir / f"bench-{stamp}{suffix}.md"
    js.write_text(json.dumps(results, indent=2) + "\n")
    mdp.write_text(md)
    return js, mdp


def emit(results: dict[str, Any], args: argparse.Namespace, stamp: str) -> None:
    """Print the table (Rich, then Markdown) and write the JSON and Markdown files."""
    defs = report.metrics(args.size_mib, args.chunk_mib, args.rss_mib, args.tags, args.tag_workers)
    report.print_rich(defs, results, Console(width=max(Console().width, 130)))
    md = report.markdown(defs, results)
    js, mdp = write_results(results, md, args.results_dir, stamp)
    print("\n" + md, flush=True)
    console.log(f"wrote {js} and {mdp}")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds, so the servers are stopped and the work dir removed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        earlier = json.loads(args.render.read_text())
        p = earlier["params"]
        defs = report.metrics(p["size_mib"], p["chunk_mib"], p["rss_mib"], p["tags"], p["tag_workers"])
        print(report.markdown(defs, earlier))
        return 0
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if args.topology:
        import topology

        return topology.run(args)
    stamp = time.strftime("%Y%m%d-%H%M%S")
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
        with running(names, args, workdir) as runs:
            bench = Bench(runs, args, data, workdir, loadgen)
            bench.all()
            results["servers"] = {r.name: r.summary() for r in runs}
            results["machine"]["loadavg_end"] = report.loadavg()
            emit(results, args, stamp)
            bench.profiles(args.results_dir, stamp)
    except WorkloadFailed as exc:
        console.print("[bold red]ABORTED: a workload failed" + (", no numbers reported." if not
                      results["servers"] else " while profiling; the numbers above stand.") + "[/]")
        console.print(str(exc), markup=False)
        return 2
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
