"""The metrics table: definitions, ratios against distribution, and Markdown / Rich / JSON output.

Every ratio is normalised so that above 1 means Dockyard is better: dockyard/distribution for
rates, distribution/dockyard for latencies and memory.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool
    ratio_target: float | None = None  # Dockyard must beat distribution by this factor
    absolute_max: float | None = None  # or stay below this value (same unit)

    def ratio(self, dockyard: float | None, distribution: float | None) -> float | None:
        if not dockyard or not distribution:
            return None
        return dockyard / distribution if self.higher_is_better else distribution / dockyard

    def target_text(self) -> str:
        if self.ratio_target is not None:
            return f"≥{self.ratio_target:g}x"
        if self.absolute_max is not None:
            return f"<{self.absolute_max:g} {self.unit}"
        return ""

    def met(self, dockyard: float | None, distribution: float | None) -> bool | None:
        if dockyard is None:
            return None
        if self.absolute_max is not None:
            return dockyard < self.absolute_max
        ratio = self.ratio(dockyard, distribution)
        if self.ratio_target is None or ratio is None:
            return None
        return ratio >= self.ratio_target


def metrics(size_mib: int, chunk_mib: int, rss_mib: int, tags: int, workers: int) -> list[Metric]:
    out = [
        Metric("push_mono", f"Blob push, {size_mib} MiB monolithic", "MB/s", True, 1.5),
        Metric("push_chunked", f"Blob push, {size_mib} MiB in {chunk_mib} MiB chunks", "MB/s", True, 1.5),
        Metric("pull", f"Blob pull, {size_mib} MiB", "MB/s", True, 1.5),
    ]
    for conc in (1, 16):
        for method in ("HEAD", "GET"):
            key = f"manifest_{method.lower()}_c{conc}"
            out += [
                Metric(f"{key}_rps", f"Manifest {method} by tag, c={conc}", "req/s", True, 2.0),
                Metric(f"{key}_p50", f"  … p50 latency, c={conc}", "ms", False),
                Metric(f"{key}_p99", f"  … p99 latency, c={conc}", "ms", False),
            ]
    out += [
        Metric("tag_put", f"Tag PUT x{tags}, {workers} workers", "tags/s", True, 2.0),
        Metric("peak_rss", f"Peak RSS, {rss_mib} MiB push + pull", "MB", False, absolute_max=150),
    ]
    return out


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def rows(defs: list[Metric], results: dict[str, Any]) -> list[list[str]]:
    dist = results["servers"].get("distribution", {}).get("metrics", {})
    dock = results["servers"].get("dockyard", {}).get("metrics", {})
    out = []
    for m in defs:
        a, b = dist.get(m.key), dock.get(m.key)
        ratio = m.ratio(b, a)
        met = m.met(b, a)
        out.append([f"{m.label} ({m.unit})", _fmt(a), _fmt(b), f"{ratio:.2f}x" if ratio else "—",
                    m.target_text(), {True: "yes", False: "**no**", None: ""}[met]])
    return out


NOISE_CORES = 0.3  # busy cores outside server and client that make a row suspect

HEADER = ["Metric", "distribution 2.8.2", "Dockyard", "Ratio (>1: Dockyard better)", "Target", "Met"]


def markdown(defs: list[Metric], results: dict[str, Any]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in rows(defs, results)]
    lines += ["", cost_markdown(results), "", cpu_markdown(results), "",
              machine_line(results["machine"], results["params"])]
    return "\n".join(lines) + "\n"


COSTS = [  # metric key, label, scale from "server core-seconds per unit" to the shown unit
    ("push_mono", "Blob push, monolithic: server CPU ms per MB", 1e3),
    ("push_chunked", "Blob push, chunks: server CPU ms per MB", 1e3),
    ("pull", "Blob pull: server CPU ms per MB", 1e3),
    ("manifest_head_c1_rps", "Manifest HEAD c=1: server CPU µs per request", 1e6),
    ("manifest_get_c1_rps", "Manifest GET c=1: server CPU µs per request", 1e6),
    ("manifest_head_c16_rps", "Manifest HEAD c=16: server CPU µs per request", 1e6),
    ("manifest_get_c16_rps", "Manifest GET c=16: server CPU µs per request", 1e6),
    ("tag_put", "Tag PUT: server CPU ms per tag", 1e3),
]


def cost_markdown(results: dict[str, Any]) -> str:
    """Server CPU per unit of work: steadier than rates when the machine is shared, and it shows
    how much of a core each request costs (Dockyard's one worker has one core to spend)."""
    names = [n for n in ("distribution", "dockyard") if n in results["servers"]]
    head = ["CPU cost (lower is better)", *names, "Ratio (>1: Dockyard cheaper)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label, scale in COSTS:
        costs: list[float | None] = []
        for n in names:
            server = results["servers"][n]
            cpu, value = server["cpu"].get(key), server["metrics"].get(key)
            costs.append(cpu["server"] / value * scale if cpu and value else None)
        ratio = costs[0] / costs[1] if len(costs) == 2 and costs[0] and costs[1] else None
        lines.append(f"| {label} | " + " | ".join(_fmt(c) for c in costs)
                     + (f" | {ratio:.2f}x |" if ratio else " | — |"))
    return "\n".join(lines)


def cpu_markdown(results: dict[str, Any]) -> str:
    """Cores busy per workload: the server, the client, the kernel, the whole machine.

    Shows who was the bottleneck (two cores in all), and flags a row where the machine was busier
    than server, client and kernel together: something else ran and that row's numbers are suspect.
    """
    names = [n for n in ("distribution", "dockyard") if n in results["servers"]]
    head = ["Workload"] + [f"{n}: server / client / kernel / machine cores" for n in names]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    workloads = list(results["servers"][names[0]]["cpu"]) if names else []
    noisy = []
    for w in workloads:
        cells = []
        for n in names:
            cpu = results["servers"][n]["cpu"].get(w)
            if not cpu:
                cells.append("—")
                continue
            kernel = cpu.get("kernel", 0.0)
            other = cpu["machine"] - cpu["server"] - cpu["client"] - kernel
            flag = " (!)" if other > NOISE_CORES and cpu["wall"] >= 0.5 else ""
            if flag:
                noisy.append(f"{n} {w}")
            shares = (cpu["server"], cpu["client"], kernel, cpu["machine"])
            cells.append(" / ".join(f"{x:.2f}" for x in shares) + flag)
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    if noisy:
        lines.append(f"\n(!) more than {NOISE_CORES} cores busy outside server, client and kernel during: "
                     + ", ".join(noisy) + ". Rerun on a quiet machine.")
    return "\n".join(lines)


def machine_line(machine: dict[str, Any], params: dict[str, Any]) -> str:
    extra = f", {params['dockyard_args']}" if params["dockyard_args"] else ""
    return (f"Machine: {machine['cpu_model']}, {machine['nproc']} cores (shared by client and server), "
            f"{machine['mem_gib']:.0f} GiB RAM, Linux {machine['kernel']}; {machine['date']}; "
            f"Dockyard {machine['dockyard_rev']} (auth: {params['dockyard_auth']}{extra}); "
            f"blob rates: median of {params['reps']} runs; manifest rows: {params['duration']:g}s each "
            f"(HEAD: bench/loadgen.c, GET: wrk), one client thread.")


def print_rich(defs: list[Metric], results: dict[str, Any], console: Console) -> None:
    table = Table(title="Dockyard vs distribution 2.8.2 on loopback (>1: Dockyard better)")
    for i, h in enumerate(HEADER):
        table.add_column(h, justify="left" if i == 0 else "right")
    for r in rows(defs, results):
        table.add_row(*[c.replace("**", "") for c in r])
    console.print(table)


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "?"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "?"


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine_info(repo: Path, registry_bin: str) -> dict[str, Any]:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    rev = _first_line(["git", "-C", str(repo), "describe", "--always", "--dirty"])
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "loadavg_start": loadavg(),
        "cpu_model": model,
        "mem_gib": mem_kib / 2**20,
        "kernel": platform.release(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "dockyard_rev": rev,
        "distribution": _first_line([registry_bin, "--version"]),
        "wrk": _first_line(["wrk", "--version"]),
    }
