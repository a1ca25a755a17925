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


def rss_bytes(pids: list[int]) -> int:
    return sum(_status_kib(pid, "VmRSS:") for pid in pids) * 1024


def hwm_bytes(pids: list[int]) -> int:
    """Sum of each process's own peak RSS (VmHWM): an upper bound on the tree's peak."""
    return sum(_status_kib(pid, "VmHWM:") for pid in pids) * 1024


@dataclass
class CpuMeter:
    """Server CPU seconds over a timed section; ``share`` is cores busy on average."""

    root: int
    start: float = 0.0
    wall0: float = 0.0
    seconds: float = 0.0
    wall: float = 0.0

    def __enter__(self) -> CpuMeter:
        self.start = cpu_seconds(tree(self.root))
        self.wall0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.seconds = cpu_seconds(tree(self.root)) - self.start

    @property
    def share(self) -> float:
        return self.seconds / self.wall if self.wall else 0.0


class RssSampler(threading.Thread):
    """Samples the tree's summed VmRSS every ``interval`` seconds; ``peak`` is the largest seen."""

    def __init__(self, root: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._halt = threading.Event()
        self._pids = tree(root)
        self._refreshed = time.monotonic()

    def run(self) -> None:
        while not self._halt.is_set():
            if time.monotonic() - self._refreshed > 0.5:
                self._pids, self._refreshed = tree(self.root), time.monotonic()
            self.peak = max(self.peak, rss_bytes(self._pids))
            self.samples += 1
            self._halt.wait(self.interval)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak
