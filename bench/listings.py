"""Listings at scale: anonymous explore, search and namespace listings with 100,000 repositories.

    .venv/bin/python bench/listings.py [--repositories 100000] [--requests 300]

Dockyard only (distribution has no hub). The repositories are written straight into a migrated
database (as a busy hub would have them: 1,000 namespaces, a fifth private, descriptions, READMEs
of up to 4 KB, pulls and stars), then one `dockyard serve` (token auth, its default) answers
anonymous requests one at a time on a keep-alive connection; each page is checked (status 200 and
the repository it must show) and timed. Prints p50 and p99 per page, and writes the table to
``bench/results/listings-<date>-<time>.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchlib import servers
from benchlib.http import Client

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORDS = ["redis", "nginx", "postgres", "python", "alpine", "node", "golang", "tools", "cache", "proxy",
         "worker", "server", "api", "web", "db", "queue", "agent", "build", "base", "runtime"]  # fmt: skip
NAMESPACES = 1000


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repositories", type=int, default=100_000)
    p.add_argument("--requests", type=int, default=300, help="timed requests per page (after 20 warm-up)")
    p.add_argument("--dockyard-bin", default=str(REPO / ".venv/bin/dockyard"))
    p.add_argument("--workdir", type=Path, help="default: a temp dir, removed afterwards")
    p.add_argument("--results-dir", type=Path, default=BENCH / "results")
    return p.parse_args()


def populate(database: Path, count: int) -> None:
    """``count`` repositories, with the columns listings order by, in one transaction."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    stamp = "%Y-%m-%d %H:%M:%S.%f"
    with sqlite3.connect(database) as db:
        db.executemany(
            "INSERT INTO namespaces (name, kind, default_private, created_at) VALUES (?, 'user', 0, ?)",
            [(f"user{n}", now.strftime(stamp)) for n in range(NAMESPACES)],
        )
        db.execute(  # accounts that cannot log in ("!" is no Argon2 hash), so /u/NAME exists
            "INSERT INTO users (namespace_id, email, password_hash, is_admin, created_at) "
            "SELECT id, '', '!', 0, created_at FROM namespaces"
        )
        rows = []
        for i in range(count):
            namespace = f"user{i % NAMESPACES}"
            created = now - timedelta(minutes=i)
            pushed = created + timedelta(minutes=rng.randrange(10**5)) if i % 3 else None
            readme = ("# " + " ".join(rng.choices(WORDS, k=rng.randrange(50, 600)))) if i % 2 else ""
            rows.append((
                f"{namespace}/{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i}", namespace, int(i % 5 == 0),
                f"The {rng.choice(WORDS)} image for {rng.choice(WORDS)}", readme,
                created.strftime(stamp), pushed.strftime(stamp) if pushed else None,
                (pushed or created).strftime(stamp),
                rng.randrange(10_000) if i % 4 else 0, rng.randrange(30) if i % 9 == 0 else 0,
            ))  # fmt: skip
        db.executemany(
            "INSERT INTO repositories (name, namespace, is_private, description, full_description, "
            "created_at, pushed_at, updated_at, pull_count, star_count) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


PAGES = [  # (label, path, text the answer must contain)
    ("/explore (most pulled)", "/explore", "/r/user"),
    ("/explore?sort=updated&page=400", "/explore?sort=updated&page=400", "/r/user"),
    ("/search?q=redis (page)", "/search?q=redis", "redis"),
    (
        "/v2/search/repositories?query=redis",
        "/v2/search/repositories?query=redis&page_size=25",
        '"repo_name"',
    ),
    ("/v1/search?q=redis (docker search)", "/v1/search?q=redis&n=25", '"name"'),
    ("/v1/search?q=zzz (no match)", "/v1/search?q=zzz&n=25", '"num_results":0'),
    ("/u/user7 (namespace page)", "/u/user7", "/r/user7/"),
    ("/v2/repositories/user7/ (API)", "/v2/repositories/user7/?page_size=25", '"user7"'),
]


def measure(client: Client, path: str, expect: str, warmup: int, requests: int) -> list[float]:
    latencies = []
    for n in range(warmup + requests):
        started = time.perf_counter()
        response = client.request("GET", path)
        elapsed = time.perf_counter() - started
        if response.status != 200 or expect.encode() not in response.body:
            raise SystemExit(
                f"GET {path}: {response.status}, expected {expect!r} in:\n{response.body[:500]!r}"
            )
        if n >= warmup:
            latencies.append(elapsed * 1000)
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    args = parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dockyard-listings-"))
    data = workdir / "dockyard-data"
    try:
        subprocess.run(
            [args.dockyard_bin, "migrate", "--data-dir", str(data)], check=True, capture_output=True
        )
        started = time.monotonic()
        populate(data / "dockyard.db", args.repositories)
        print(
            f"{args.repositories:,} repositories written in {time.monotonic() - started:.1f} s",
            file=sys.stderr,
        )
        port = servers.free_port()
        argv = [
            args.dockyard_bin,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data),
        ]
        env = {"DOCKYARD_LOG_LEVEL": "error", "DOCKYARD_ACCESS_LOG": "off"}
        server = servers.Server("dockyard", argv, port, workdir, env=env)
        server.start()
        results = []
        try:
            client = Client(server.base, "dockyard", timeout=60)
            for label, path, expect in PAGES:
                latencies = measure(client, path, expect, 20, args.requests)
                results.append(
                    {
                        "page": label,
                        "path": path,
                        "p50_ms": percentile(latencies, 50),
                        "p99_ms": percentile(latencies, 99),
                        "mean_ms": statistics.fmean(latencies),
                    }
                )
                print(
                    f"{label:40} p50 {results[-1]['p50_ms']:7.2f} ms  p99 {results[-1]['p99_ms']:7.2f} ms",
                    file=sys.stderr,
                )
        finally:
            server.stop()
        emit(args, results)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def emit(args: argparse.Namespace, results: list[dict[str, object]]) -> None:
    lines = [
        f"| Page, anonymous, {args.repositories:,} repositories | p50 (ms) | p99 (ms) |",
        "|---|---|---|",
    ]
    lines += [f"| `{r['page']}` | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |" for r in results]
    markdown = "\n".join(lines)
    print(markdown)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (args.results_dir / f"listings-{stamp}.md").write_text(markdown + "\n")
    meta = {"repositories": args.repositories, "requests": args.requests, "results": results}
    (args.results_dir / f"listings-{stamp}.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
