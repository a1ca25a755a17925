"""Request-rate runs: ``wrk`` for GET, ``bench/loadgen.c`` for HEAD.

Debian's wrk 4.1.0 (and h2load) never finish a HEAD request whose response carries a
Content-Length, which registries must send, so HEAD goes through loadgen, a small C closed-loop
client compiled on first use. Both run one client thread with C keep-alive connections, one request
in flight per connection; loadgen's GET numbers are recorded next to wrk's as a calibration.
Each run aborts on any non-2xx answer or socket error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import WorkloadFailed
from .procstat import CpuMeter
from .workloads import OCI_MANIFEST, Target, children_cpu

LOADGEN_SOURCE = Path(__file__).resolve().parent.parent / "loadgen.c"


@dataclass
class RateResult:
    tool: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    client_cpu: float  # cores used by the load generator
    server_cpu: float  # cores used by the server tree
    machine_cpu: float  # cores busy on the whole machine
    wall: float
    kernel_cpu: float = 0.0  # interrupts and kernel threads (part of machine_cpu)
    reconnects: int = 0  # connections the server closed mid-run (then connect time is measured too)


def build_loadgen(workdir: Path) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("a C compiler (cc) is needed to build bench/loadgen.c for the HEAD rows")
    out = workdir / "loadgen"
    subprocess.run([cc, "-O2", "-Wall", "-o", str(out), str(LOADGEN_SOURCE)], check=True)
    return out


def _headers(t: Target) -> dict[str, str]:
    return {**t.headers, "Accept": OCI_MANIFEST}


def _measure(t: Target, argv: list[str]) -> tuple[subprocess.CompletedProcess[str], float, CpuMeter]:
    with CpuMeter(t.pid) as cpu:
        cpu0 = children_cpu()
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        client = children_cpu() - cpu0
    return out, client, cpu


def loadgen(t: Target, binary: Path, method: str, path: str, connections: int, seconds: float) -> RateResult:
    argv = [str(binary), "-m", method, "-c", str(connections), "-d", f"{seconds:g}"]
    for name, value in _headers(t).items():
        argv += ["-H", f"{name}: {value}"]
    out, client, cpu = _measure(t, [*argv, t.base + path])
    what = f"loadgen {method} {path} c={connections}"
    try:
        r = json.loads(out.stdout)
    except ValueError:
        raise WorkloadFailed(t.name, what, f"exit {out.returncode}\n{out.stdout}\n{out.stderr}") from None
    if out.returncode or not r["requests"] or r["non2xx"] or r["errors"] or r["over_10s"] or r["unfinished"]:
        raise WorkloadFailed(t.name, what, f"bad run (non-2xx answers, errors or stuck requests): {r}")
    return RateResult("loadgen", r["rps"], r["p50_ms"], r["p99_ms"], r["requests"],
                      client / cpu.wall, cpu.share, cpu.machine, cpu.wall,
                      kernel_cpu=cpu.kernel, reconnects=r["reconnects"])


WRK_SCRIPT = """\
wrk.method = "{method}"
{headers}
function done(summary, latency, requests)
  io.stderr:write(string.format("BENCH %d %d %d %d %d %d\\n", summary.requests,
    summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
end
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    for unit in ("us", "ms", "s", "m"):
        number = text[: -len(unit)]
        if text.endswith(unit) and number.replace(".", "", 1).isdigit():
            return float(number) * _UNITS[unit]
    raise ValueError(f"unparsable wrk latency {text!r}")


def wrk(t: Target, workdir: Path, method: str, path: str, connections: int, seconds: float) -> RateResult:
    lua = workdir / f"wrk-{method.lower()}.lua"
    lua.write_text(WRK_SCRIPT.format(method=method, headers="\n".join(
        f'wrk.headers["{k}"] = "{v}"' for k, v in _headers(t).items())))
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s",
            "-s", str(lua), t.base + path]
    out, client, cpu = _measure(t, argv)
    what = f"wrk {method} {path} c={connections}"
    counts = [ln.split()[1:] for ln in out.stderr.splitlines() if ln.startswith("BENCH ")]
    if out.returncode != 0 or not counts:
        raise WorkloadFailed(t.name, what, f"wrk exit {out.returncode}\n{out.stdout}\n{out.stderr}")
    total, bad_status, *socket_errors = map(int, counts[0])
    if total == 0 or bad_status or any(socket_errors):
        raise WorkloadFailed(t.name, what, f"{total} requests, {bad_status} non-2xx/3xx, socket errors "
                             f"(connect, read, write, timeout) {socket_errors}\n{out.stdout}")
    rps = p50 = p99 = None
    for line in out.stdout.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(parts[1])
        elif len(parts) == 2 and parts[0] == "50%":
            p50 = _ms(parts[1])
        elif len(parts) == 2 and parts[0] == "99%":
            p99 = _ms(parts[1])
    if rps is None or p50 is None or p99 is None:
        raise WorkloadFailed(t.name, what, "could not parse wrk output\n" + out.stdout)
    return RateResult("wrk", rps, p50, p99, total, client / cpu.wall, cpu.share, cpu.machine, cpu.wall,
                      kernel_cpu=cpu.kernel)
