"""The collector's mark phase: what is unreachable, computed from one read of the metadata.

    roots        manifests with a tag, manifests pushed after the cutoff (a push in progress:
                 an index's children arrive before the index, an image before its tag), and the
                 untagged manifests a retention policy still keeps (``spared``)
    edges        an index to its child manifests, a subject to its referrers (same repository)
    garbage      manifests no root reaches; links that no surviving manifest of their repository
                 references; blobs that no surviving manifest anywhere references. Links and
                 blobs touched after the cutoff are never garbage.

The plan is only a list of candidates: the sweep (``gc.py``) checks each again inside the
transaction that deletes it, so anything pushed, tagged or linked since this read survives.
Only keys and timestamps are read (never manifest bodies): ten thousand manifests and fifty
thousand blobs are a few megabytes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from dockyard.clock import utc
from dockyard.registry.ledger import LAST_TOUCH
from dockyard.registry.store import blobs, links, manifests, references, tags

Key = tuple[int, str]  # (repository id, digest)


@dataclass(frozen=True, slots=True)
class Candidate:
    digest: str
    size: int


@dataclass
class Plan:
    manifests: list[int] = field(default_factory=list)  # ids, indexes first
    links: list[Key] = field(default_factory=list)
    blobs: list[Candidate] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(blob.size for blob in self.blobs)


def plan(conn: Connection, cutoff: datetime, spared: Collection[int] = ()) -> Plan:
    rows = conn.execute(
        select(
            manifests.c.id,
            manifests.c.repository_id,
            manifests.c.digest,
            manifests.c.subject_digest,
            manifests.c.created_at,
            manifests.c.media_type,
        )
    ).all()
    tagged = set(conn.execute(select(tags.c.manifest_id).distinct()).scalars())
    refs = conn.execute(select(references.c.manifest_id, references.c.digest, references.c.kind)).all()
    repo_of = {row.id: row.repository_id for row in rows}
    by_key = {(row.repository_id, row.digest): row.id for row in rows}
    edges: dict[int, list[int]] = defaultdict(list)
    for ref in refs:
        child = by_key.get((repo_of.get(ref.manifest_id, -1), ref.digest))
        if ref.kind == "manifest" and child is not None:
            edges[ref.manifest_id].append(child)
    for row in rows:
        subject = by_key.get((row.repository_id, row.subject_digest or ""))
        if subject is not None:
            edges[subject].append(row.id)
    roots = [row.id for row in rows if row.id in tagged or row.id in spared or utc(row.created_at) >= cutoff]
    dead = set(repo_of) - _reach(roots, edges)
    # Indexes first: a child is only deletable once no index in its repository lists it.
    order = sorted(dead, key=lambda mid: (0 if mid in edges else 1, mid))
    used = {
        (repo_of[r.manifest_id], r.digest) for r in refs if r.kind == "blob" and r.manifest_id not in dead
    }
    return Plan(order, *_unused(conn, cutoff, used))


def _reach(roots: list[int], edges: dict[int, list[int]]) -> set[int]:
    seen = set(roots)
    stack = list(roots)
    while stack:
        for child in edges.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def _unused(conn: Connection, cutoff: datetime, used: set[Key]) -> tuple[list[Key], list[Candidate]]:
    """Links no surviving manifest of their repository uses, blobs none anywhere uses; both
    untouched since the cutoff."""
    used_anywhere = {digest for _, digest in used}
    old: dict[str, int] = {}
    for row in conn.execute(select(blobs.c.digest, blobs.c.size, LAST_TOUCH.label("touched"))):
        if utc(row.touched) < cutoff:
            old[row.digest] = int(row.size)
    unused_links = [
        (row.repository_id, row.digest)
        for row in conn.execute(select(links.c.repository_id, links.c.digest, links.c.created_at))
        if row.digest in old
        and row.digest in used_anywhere  # an unused blob's links go with it
        and (row.repository_id, row.digest) not in used
        and utc(row.created_at) < cutoff
    ]
    unused_blobs = [Candidate(d, size) for d, size in sorted(old.items()) if d not in used_anywhere]
    return unused_links, unused_blobs
