"""bench/gc.py runs in CI at a small scale (in process: its own interpreter would cost more than
the run), so the benchmark of issue 11 (10,000 manifests / 50,000 blobs / 1% garbage,
bench/README.md) cannot rot: the script itself checks that exactly the garbage went, rows and
bytes on disk, and writes its table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gc.py"


def test_the_gc_benchmark_runs_and_checks_what_it_collected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location("bench_gc", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--manifests", "100", "--blobs", "500", "--garbage", "0.05", "--results", str(tmp_path)])
    assert "| collection | 100 | 500 | 5 |" in capsys.readouterr().out
    (written,) = tmp_path.glob("gc-*.json")
    assert json.loads(written.read_text())["collection_seconds"] > 0
