"""What a server process tree costs: CPU seconds from ``/proc/<pid>/stat``, memory from ``status``.

The tree is the server's pid plus every descendant (workers forked by Granian or uvicorn), found by
walking ``ppid`` links, so a multi-process server is measured whole.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")
KTHREADD = 2  # parent of every kernel thread


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces; fields start after the last ')'.
    return raw[raw.rindex(")") + 2:].split()


def tree(root: int) -> list[int]:
    """``root`` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of ``pids`` (live processes only)."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def _status_kib(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / _TICKS


def kernel_seconds() -> float:
    """CPU seconds of interrupts, softirqs and kernel threads (writeback, ksoftirqd, ...) since boot.

    Much of it is the benchmark's own doing (flushing pushed blobs to disk, loopback packets), so
    it is kept apart from "other" work when judging whether the machine was quiet.
    """
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (fields[5] + fields[6]) / _TICKS + cpu_seconds(tree(KTHREADD))


def pss_bytes(pids: list[int]) -> int:
    """Proportional set size: shared pages split between the processes mapping them."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total * 1024


def breakdown(pids: list[int]) -> list[dict[str, object]]:
    """Per process: pid, command line, current and peak RSS in MB."""
    out: list[dict[str, object]] = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        out.append({"pid": pid, "cmd": cmd[:120], "rss_mb": _status_kib(pid, "VmRSS:") * 1024 / 1e6,
                    "hwm_mb": _status_kib(pid, "VmHWM:") * 1024 / 1e6})
    return out


def rss_bytes(pids: list[int]) -> int:
    return sum(_status_kib(pid, "VmRSS:") for pid in pids) * 1024


def hwm_bytes(pids: list[int]) -> int:
    """Sum of each process's own peak RSS (VmHWM): an upper bound on the tree's peak."""
    return sum(_status_kib(pid, "VmHWM:") for pid in pids) * 1024


@dataclass
class CpuMeter:
    """Server CPU seconds over a timed section; ``share`` is cores busy on average.

    ``machine`` is the whole machine's busy cores over the same section and ``kernel`` the part
    spent in interrupts and kernel threads: when the machine exceeds server, client and kernel by
    much, something else was running and the numbers are suspect.
    """

    root: int
    start: float = 0.0
    machine0: float = 0.0
    kernel0: float = 0.0
    wall0: float = 0.0
    seconds: float = 0.0
    machine_seconds: float = 0.0
    kernel_seconds: float = 0.0
    wall: float = 0.0

    def __enter__(self) -> CpuMeter:
        self.start = cpu_seconds(tree(self.root))
        self.machine0, self.kernel0 = machine_busy_seconds(), kernel_seconds()
        self.wall0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.seconds = cpu_seconds(tree(self.root)) - self.start
        self.machine_seconds = machine_busy_seconds() - self.machine0
        self.kernel_seconds = kernel_seconds() - self.kernel0

    @property
    def share(self) -> float:
        return self.seconds / self.wall if self.wall else 0.0

    @property
    def machine(self) -> float:
        return self.machine_seconds / self.wall if self.wall else 0.0

    @property
    def kernel(self) -> float:
        return self.kernel_seconds / self.wall if self.wall else 0.0


class RssSampler(threading.Thread):
    """Samples the tree's summed VmRSS (and PSS) every ``interval`` seconds; keeps the largest seen."""

    def __init__(self, root: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.peak = 0
        self.peak_pss = 0
        self.samples = 0
        self._halt = threading.Event()
        self._pids = tree(root)
        self._refreshed = time.monotonic()

    def run(self) -> None:
        while not self._halt.is_set():
            if time.monotonic() - self._refreshed > 0.5:
                self._pids, self._refreshed = tree(self.root), time.monotonic()
            self.peak = max(self.peak, rss_bytes(self._pids))
            self.peak_pss = max(self.peak_pss, pss_bytes(self._pids))
            self.samples += 1
            self._halt.wait(self.interval)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def wait_until_idle(max_busy: float, timeout: float, window: float = 5.0) -> float:
    """Wait (up to ``timeout`` s) for a ``window`` in which fewer than ``max_busy`` cores were busy.

    Returns the busy cores of the last window, so the caller can warn when the wait ran out.
    """
    deadline = time.monotonic() + timeout
    while True:
        before = machine_busy_seconds()
        time.sleep(window)
        busy = (machine_busy_seconds() - before) / window
        if busy < max_busy or time.monotonic() >= deadline:
            return busy
