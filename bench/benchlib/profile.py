"""Optional py-spy flame graphs of the Dockyard server, one per workload (``--py-spy PATH``).

Profiles come from a separate pass after every measurement, so the sampling overhead never touches
a reported number. py-spy is not a project dependency: install it anywhere, e.g.
``python3 -m venv /tmp/pyspy && /tmp/pyspy/bin/pip install py-spy``, and pass its path.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def py_spy(binary: str, pid: int, out: Path, rate: int = 250) -> Iterator[None]:
    """Record ``pid`` and its worker processes into the SVG flame graph ``out`` while the block runs."""
    proc = subprocess.Popen([binary, "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
                             "--rate", str(rate), "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # let it attach to every process
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        if proc.returncode not in (0, -signal.SIGINT) or not out.exists():
            raise RuntimeError(f"py-spy failed ({proc.returncode}): {err.strip()[-2000:]}")
