"""Storage quotas per namespace.

    usage       the distinct blobs linked by the namespace's repositories: a layer shared by ten of
                them counts once, a layer shared with another namespace counts in each
    enforced    where a blob joins the namespace (an upload's link, a mount), inside that link's
                transaction (``ledger.py``): DENIED "quota exceeded: used X of Y", and the blob is
                not linked (its bytes go at the next collection); an upload is also checked before
                its bytes move into the blob store. A manifest PUT is refused while the namespace
                is over its quota (one lowered below what is stored).
    Quotas(store).set(namespace, limit | None), .get(namespace) -> Quota(limit, used)

A namespace without a row has no quota, and costs a push one read by key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, cast

from sqlalchemy import Table, bindparam, delete, func, select
from sqlalchemy.engine import Connection

from dockyard.db.engine import Database, offload
from dockyard.db.models import Blob, Repository, RepositoryBlob
from dockyard.names import namespace_of
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.models import NamespaceQuota

quotas = cast(Table, NamespaceQuota.__table__)
repositories = cast(Table, Repository.__table__)
blobs = cast(Table, Blob.__table__)
links = cast(Table, RepositoryBlob.__table__)
# The manifest PUT's read (store.put_manifest, a prepared statement on SQLite).
LIMIT = select(quotas.c.limit_bytes).where(quotas.c.namespace == bindparam("namespace"))
LIMIT_LOCKED = LIMIT.with_for_update()  # a link's: held until its commit (require_room)

UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
UNITS |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


@dataclass(frozen=True, slots=True)
class Quota:
    namespace: str
    limit: int | None
    used: int


class QuotaExceeded(RegistryError):
    def __init__(self, used: int, limit: int) -> None:
        super().__init__(
            ErrorCode.DENIED,
            {"used": used, "limit": limit},
            message=f"quota exceeded: used {human(used)} of {human(limit)}",
        )


def parse_size(text: str) -> int:
    """``10GB``, ``512MiB``, ``1.5 GB``, ``1000`` (bytes); ValueError otherwise."""
    found = SIZE.match(text)
    unit = found.group(2).upper() if found else ""
    if found is None or unit not in UNITS:
        raise ValueError(f"{text!r} is not a size: use bytes or a unit (KB, MB, GB, TB, KiB, MiB, GiB, TiB)")
    return int(float(found.group(1)) * UNITS[unit])


def human(size: int) -> str:
    for unit in ("TB", "GB", "MB", "KB"):
        if size >= UNITS[unit]:
            return f"{size / UNITS[unit]:.1f} {unit}"
    return f"{size} B"


def limit_of(conn: Connection, namespace: str, *, lock: bool = False) -> int | None:
    found = conn.execute(LIMIT_LOCKED if lock else LIMIT, {"namespace": namespace}).scalar_one_or_none()
    return None if found is None else int(found)


def used_by(conn: Connection, namespace: str) -> int:
    held = (
        select(links.c.digest)
        .select_from(links.join(repositories, repositories.c.id == links.c.repository_id))
        .where(repositories.c.namespace == namespace)
        .distinct()
    )
    total = conn.execute(select(func.coalesce(func.sum(blobs.c.size), 0)).where(blobs.c.digest.in_(held)))
    return int(total.scalar_one())


def _holds(conn: Connection, namespace: str, digest: str) -> bool:
    query = (
        select(links.c.digest)
        .select_from(links.join(repositories, repositories.c.id == links.c.repository_id))
        .where(repositories.c.namespace == namespace, links.c.digest == digest)
        .limit(1)
    )
    return conn.execute(query).first() is not None


def require_room(conn: Connection, repository: str, digest: str, size: int, *, lock: bool = True) -> None:
    """Raise QuotaExceeded if linking ``digest`` into ``repository`` would cross its quota.

    In a link's transaction the quota's row is locked until the commit (PostgreSQL; SQLite has
    one writer): two uploads into one namespace cannot both see the room only one of them fits."""
    namespace = namespace_of(repository)
    limit = limit_of(conn, namespace, lock=lock)
    if limit is None or _holds(conn, namespace, digest):
        return
    used = used_by(conn, namespace)
    if used + size > limit:
        raise QuotaExceeded(used, limit)


class _Store(Protocol):
    """What Quotas needs of the MetadataStore (which imports this module: the manifest PUT checks
    the quota in its own transaction)."""

    db: Database


class Quotas:
    def __init__(self, store: _Store) -> None:
        self.store = store

    @offload
    def get(self, namespace: str) -> Quota:
        with self.store.db.read.connect() as conn:
            return Quota(namespace, limit_of(conn, namespace), used_by(conn, namespace))

    @offload
    def limits(self, namespaces: list[str]) -> dict[str, int]:
        """The quotas of those of ``namespaces`` that have one (the admin storage page)."""
        query = select(quotas.c.namespace, quotas.c.limit_bytes).where(quotas.c.namespace.in_(namespaces))
        with self.store.db.read.connect() as conn:
            return {str(row.namespace): int(row.limit_bytes) for row in conn.execute(query)}

    @offload
    def set(self, namespace: str, limit: int | None) -> None:
        if limit is not None and limit < 0:
            raise ValueError("a quota is a size of zero bytes or more")
        with self.store.db.write.begin() as conn:
            conn.execute(delete(quotas).where(quotas.c.namespace == namespace))
            if limit is not None:
                values = {"namespace": namespace, "limit_bytes": limit, "updated_at": datetime.now(UTC)}
                conn.execute(quotas.insert().values(**values))

    @offload
    def check_blob(self, repository: str, digest: str, size: int) -> None:
        """Before an upload's bytes move into place (the link checks again, in its transaction)."""
        with self.store.db.read.connect() as conn:
            require_room(conn, repository, digest, size, lock=False)


def refuse_if_over(conn: Connection, namespace: str, limit: int | None) -> None:
    """A manifest PUT's check, in its transaction (store.put_manifest reads ``LIMIT``): refused
    while the namespace is over its quota; the usage is only added up when there is one."""
    if limit is not None and (used := used_by(conn, namespace)) > limit:
        raise QuotaExceeded(used, int(limit))
