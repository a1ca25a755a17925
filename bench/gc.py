"""Garbage collection at scale: 10,000 manifests and 50,000 blobs, 1% of them garbage.

    .venv/bin/python bench/gc.py [--manifests 10000] [--blobs 50000] [--garbage 0.01] [--results DIR]

Dockyard only (distribution collects offline). The registry is written straight into a migrated
SQLite database and a filesystem store (100 repositories; each manifest a config and four layers
out of the blob pool; one manifest in a hundred untagged, its blobs used by no other manifest), then
one dry run and one collection with no grace period run in-process, as `dockyard gc` runs them.
Checks that exactly the garbage went, and prints the time of each run; writes the table to
``bench/results/gc-<date>-<time>.{md,json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))

from dockyard.db.engine import make_database  # noqa: E402
from dockyard.migrations import upgrade  # noqa: E402
from dockyard.registry.gc import Collector  # noqa: E402
from dockyard.registry.service import Registry  # noqa: E402
from dockyard.registry.store import MetadataStore  # noqa: E402
from dockyard.storage import create_driver  # noqa: E402

REPOSITORIES = 100
LAYERS = 4
OLD = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S.%f")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifests", type=int, default=10_000)
    p.add_argument("--blobs", type=int, default=50_000)
    p.add_argument("--garbage", type=float, default=0.01)
    p.add_argument("--results", type=Path, default=BENCH / "results", help="where the table goes")
    return p.parse_args(argv)


def digest(n: int) -> str:
    return "sha256:" + hashlib.sha256(f"blob {n}".encode()).hexdigest()


def populate(db: Path, storage: Path, manifests: int, pool: int, garbage: float) -> tuple[int, int]:
    """Returns (garbage manifests, garbage blobs)."""
    every = max(1, round(1 / garbage)) if garbage else 0
    per_manifest = 1 + LAYERS
    conn = sqlite3.connect(db)
    conn.executemany(
        "INSERT INTO repositories (id, name, created_at, namespace, is_private, description, "
        "full_description, updated_at, pull_count, star_count) VALUES (?, ?, ?, ?, 0, '', '', ?, 0, 0)",
        [(r + 1, f"bench{r % 10:04d}/repo{r}", OLD, f"bench{r % 10:04d}", OLD) for r in range(REPOSITORIES)],
    )
    link_rows: set[tuple[int, str]] = set()
    manifest_rows: list[tuple[object, ...]] = []
    ref_rows: list[tuple[object, ...]] = []
    tag_rows: list[tuple[object, ...]] = []
    dead_manifests, live = 0, set()
    for m in range(manifests):
        repo = m % REPOSITORIES + 1
        dead = bool(every) and m % every == 0
        used = [(m * per_manifest + k) % pool for k in range(per_manifest)]
        dead_manifests += dead
        if not dead:
            live.update(used)
            tag_rows.append((repo, f"t{m}", m + 1, OLD))
        manifest_rows.append((m + 1, repo, f"sha256:{m:064x}", "application/vnd.oci.image.manifest.v1+json",
                              None, None, 100, b"{}", OLD))  # fmt: skip
        for n in used:
            ref_rows.append((m + 1, digest(n), "blob", "application/octet-stream", 10, None, None, None))
            link_rows.add((repo, digest(n)))
    dead_blobs = pool - len(live)  # blobs only untagged manifests use
    names = range(pool)
    blob_rows = [(digest(n), 10, OLD) for n in sorted(names)]
    conn.executemany("INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?)", blob_rows)
    conn.executemany(
        "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)",
        [(r, d, OLD) for r, d in sorted(link_rows)],
    )
    conn.executemany(
        "INSERT INTO manifests (id, repository_id, digest, media_type, artifact_type, subject_digest, size, "
        "content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        manifest_rows,
    )
    conn.executemany(
        "INSERT INTO manifest_references (manifest_id, digest, kind, media_type, size, platform_os, "
        "platform_architecture, platform_variant) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ref_rows,
    )
    conn.executemany(
        "INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)", tag_rows
    )
    conn.commit()
    conn.close()
    for d, _, _ in blob_rows:
        hexpart = d.split(":", 1)[1]
        folder = storage / "blobs" / "sha256" / hexpart[:2] / hexpart
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "data").write_bytes(b"0123456789")
    return dead_manifests, dead_blobs


async def collect(registry: Registry, dry_run: bool) -> tuple[float, object]:
    collector = Collector(registry.storage, registry.store, registry.uploads)
    started = time.perf_counter()
    report = await collector.collect(0, dry_run=dry_run)
    return time.perf_counter() - started, report


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-gc-") as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'dockyard.db'}"
        upgrade(url)
        dead_manifests, dead_blobs = populate(root / "dockyard.db", root / "storage", args.manifests,
                                              args.blobs, args.garbage)  # fmt: skip
        database = make_database(url)
        registry = Registry(
            create_driver("filesystem", root=root / "storage"), MetadataStore(database), 4 << 20
        )
        dry_seconds, preview = asyncio.run(collect(registry, True))
        seconds, report = asyncio.run(collect(registry, False))
        database.dispose()
        left = sum(1 for _ in (root / "storage" / "blobs").rglob("data"))
    assert (preview.manifests, preview.blobs) == (dead_manifests, dead_blobs), preview  # type: ignore[attr-defined]
    assert (report.manifests, report.blobs) == (dead_manifests, dead_blobs), report  # type: ignore[attr-defined]
    assert left == args.blobs - dead_blobs, left
    rows = [
        ("dry run", dry_seconds, preview),
        ("collection", seconds, report),
    ]
    table = [
        "| run | manifests | blobs | garbage manifests | garbage blobs | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for name, took, found in rows:
        table.append(f"| {name} | {args.manifests} | {args.blobs} | {found.manifests} | "  # type: ignore[attr-defined]
                     f"{found.blobs} | {took:.2f} |")  # type: ignore[attr-defined]  # fmt: skip
    print("\n".join(table))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    results: Path = args.results
    results.mkdir(parents=True, exist_ok=True)
    (results / f"gc-{stamp}.md").write_text("\n".join(table) + "\n")
    data = {"manifests": args.manifests, "blobs": args.blobs, "garbage": args.garbage,
            "dry_run_seconds": dry_seconds, "collection_seconds": seconds}  # fmt: skip
    (results / f"gc-{stamp}.json").write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
