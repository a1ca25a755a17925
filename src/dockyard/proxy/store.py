"""The proxy's rows: proxy namespaces (each reserving its name in ``namespaces``) and tag checks.

Each method is one short transaction on a worker thread, like the registry's store; nothing here
is held while bytes stream.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from dockyard.db.engine import Database, offload
from dockyard.proxy.models import ProxyNamespace, ProxyPull, ProxyTagCheck
from dockyard.proxy.records import Credentials, ProxyConfig, ProxyError, ProxyNotFound
from dockyard.registry import readmodels as registry_reads
from dockyard.secretbox import SecretBox

proxies = cast(Table, ProxyNamespace.__table__)
checks = cast(Table, ProxyTagCheck.__table__)
pulls = cast(Table, ProxyPull.__table__)

PROXY_KIND = "proxy"  # the namespaces.kind of a name a proxy holds (an organisation keeps "org")


def _now() -> datetime:
    return datetime.now(UTC)


class NamespaceNames(Protocol):
    """The accounts' namespace names, inside the proxy's transaction (accounts sits above the
    proxy and owns the table: accounts/reservations.py implements this)."""

    def kind(self, conn: Connection, name: str) -> str | None: ...

    def reserve(
        self, conn: Connection, name: str, kind: str, default_private: bool, at: datetime
    ) -> None: ...

    def release(self, conn: Connection, name: str, kind: str) -> None: ...


class ProxyStore:
    def __init__(self, database: Database, secrets: SecretBox, names: NamespaceNames) -> None:
        self.db = database
        self.secrets = secrets
        self.names = names
        self._insert = postgresql.insert if database.dialect == "postgresql" else sqlite.insert

    # -- configuration ------------------------------------------------------------------

    @offload
    def add(
        self,
        namespace: str,
        upstream_url: str,
        credentials: Credentials | None,
        ttl_seconds: int,
        private: bool,
        mirror: bool = False,
        size_limit: int | None = None,
    ) -> ProxyConfig:
        """A new proxy namespace. A free name becomes a namespace of kind "proxy"; an existing
        organisation may be made a proxy too (its members then pull from it when private)."""
        sealed = None
        if credentials is not None:
            sealed = self.secrets.seal({"username": credentials.username, "password": credentials.password})
        now = _now()
        with self.db.write.begin() as conn:
            kind = self.names.kind(conn, namespace)
            if kind is None:
                self.names.reserve(conn, namespace, PROXY_KIND, private, now)
            elif kind not in ("org", PROXY_KIND):
                raise ProxyError(f"{namespace!r} is taken by a {'user' if kind == 'user' else kind} account")
            if mirror and conn.execute(select(proxies.c.id).where(proxies.c.is_mirror)).first():
                raise ProxyError("there is an instance mirror already; remove it first")
            values = dict(
                namespace=namespace,
                upstream_url=upstream_url,
                sealed_credentials=sealed,
                ttl_seconds=ttl_seconds,
                is_private=private,
                is_mirror=mirror,
                size_limit_bytes=size_limit,
                created_at=now,
                hits=0,
                misses=0,
            )
            try:
                conn.execute(proxies.insert().values(**values))
            except IntegrityError:
                raise ProxyError(f"{namespace!r} is already a proxy namespace") from None
            row = conn.execute(select(proxies).where(proxies.c.namespace == namespace)).one()
        return _config(row)

    @offload
    def remove(self, namespace: str) -> int:
        """Remove a proxy namespace; returns how many cached repositories stay behind (read-only
        to everyone but administrators, who may delete them). Its name is freed when none do."""
        with self.db.write.begin() as conn:
            removed = conn.execute(delete(proxies).where(proxies.c.namespace == namespace)).rowcount
            if not removed:
                raise ProxyNotFound(f"{namespace!r} is not a proxy namespace")
            left = registry_reads.repository_counts(conn, [namespace]).get(namespace, 0)
            conn.execute(
                delete(checks).where(checks.c.repository.startswith(f"{namespace}/", autoescape=True))
            )
            conn.execute(delete(pulls).where(pulls.c.namespace == namespace))
            if not left:
                self.names.release(conn, namespace, PROXY_KIND)
        return int(left)

    @offload
    def set_limit(self, namespace: str, size_limit: int | None) -> None:
        with self.db.write.begin() as conn:
            changed = conn.execute(
                update(proxies).where(proxies.c.namespace == namespace).values(size_limit_bytes=size_limit)
            ).rowcount
        if not changed:
            raise ProxyNotFound(f"{namespace!r} is not a proxy namespace")

    @offload
    def list(self) -> list[ProxyConfig]:
        with self.db.read.connect() as conn:
            rows = conn.execute(select(proxies).order_by(proxies.c.namespace)).all()
        return [_config(row) for row in rows]

    @offload
    def get(self, namespace: str) -> ProxyConfig | None:
        with self.db.read.connect() as conn:
            row = conn.execute(select(proxies).where(proxies.c.namespace == namespace)).first()
        return None if row is None else _config(row)

    @offload
    def credentials(self, namespace: str) -> Credentials | None:
        with self.db.read.connect() as conn:
            sealed = conn.execute(
                select(proxies.c.sealed_credentials).where(proxies.c.namespace == namespace)
            ).scalar_one_or_none()
        if sealed is None:
            return None
        opened = self.secrets.open(sealed)
        return Credentials(str(opened["username"]), str(opened["password"]))

    @offload
    def cached_manifests(self) -> builtins.set[int]:
        """Ids of every manifest a proxy namespace holds: the garbage collector spares them, so a
        manifest pulled only by digest stays pullable without the upstream; the size limit's
        least-recently-pulled eviction (space.py) is what removes cached content."""
        with self.db.read.connect() as conn:
            held = [str(ns) for ns in conn.execute(select(proxies.c.namespace)).scalars()]
            return registry_reads.manifest_ids_within(conn, held)

    # -- freshness and counters -----------------------------------------------------------

    @offload
    def tag_checked(self, repository: str, tag: str) -> tuple[str, datetime] | None:
        """The digest the tag had upstream at its last check, and when that was."""
        with self.db.read.connect() as conn:
            row = conn.execute(
                select(checks.c.digest, checks.c.checked_at).where(
                    checks.c.repository == repository, checks.c.tag == tag
                )
            ).first()
        if row is None:
            return None
        checked = row.checked_at if row.checked_at.tzinfo else row.checked_at.replace(tzinfo=UTC)
        return str(row.digest), checked

    @offload
    def record_check(self, namespace: str, repository: str, tag: str, digest: str) -> None:
        now = _now()
        upsert = self._insert(checks).values(repository=repository, tag=tag, digest=digest, checked_at=now)
        with self.db.write.begin() as conn:
            conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["repository", "tag"],
                    set_={"digest": upsert.excluded.digest, "checked_at": upsert.excluded.checked_at},
                )
            )
            conn.execute(update(proxies).where(proxies.c.namespace == namespace).values(last_checked_at=now))

    @offload
    def count(self, namespace: str, *, hit: bool) -> None:
        column = proxies.c.hits if hit else proxies.c.misses
        with self.db.write.begin() as conn:
            conn.execute(update(proxies).where(proxies.c.namespace == namespace).values({column: column + 1}))

    @offload
    def served(self, namespace: str, repository: str, digest: str, *, hit: bool, at: datetime) -> None:
        """A manifest served from the cache (hit) or after a fetch (miss): counted, and its last
        pull recorded for eviction, in one transaction."""
        column = proxies.c.hits if hit else proxies.c.misses
        row = {"repository": repository, "digest": digest, "namespace": namespace, "last_pulled_at": at}
        upsert = self._insert(pulls).values(**row)
        with self.db.write.begin() as conn:
            conn.execute(update(proxies).where(proxies.c.namespace == namespace).values({column: column + 1}))
            conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["repository", "digest"],
                    set_={"last_pulled_at": upsert.excluded.last_pulled_at},
                )
            )

    @offload
    def least_recent(self, namespace: str, before: datetime, limit: int) -> builtins.list[tuple[str, str]]:
        """Up to ``limit`` cached manifests (repository, digest), least recently pulled first, of
        those last pulled before ``before``."""
        query = (
            select(pulls.c.repository, pulls.c.digest)
            .where(pulls.c.namespace == namespace, pulls.c.last_pulled_at < before)
            .order_by(pulls.c.last_pulled_at, pulls.c.repository, pulls.c.digest)
            .limit(limit)
        )
        with self.db.read.connect() as conn:
            return [(str(r.repository), str(r.digest)) for r in conn.execute(query)]

    @offload
    def forget_pull(self, repository: str, digest: str) -> None:
        with self.db.write.begin() as conn:
            conn.execute(delete(pulls).where(pulls.c.repository == repository, pulls.c.digest == digest))


def _config(row: Any) -> ProxyConfig:
    return ProxyConfig(
        id=int(row.id),
        namespace=str(row.namespace),
        upstream_url=str(row.upstream_url),
        ttl_seconds=int(row.ttl_seconds),
        is_private=bool(row.is_private),
        has_credentials=row.sealed_credentials is not None,
        is_mirror=bool(row.is_mirror),
        created_at=row.created_at,
        hits=int(row.hits),
        misses=int(row.misses),
        last_checked_at=row.last_checked_at,
        size_limit_bytes=None if row.size_limit_bytes is None else int(row.size_limit_bytes),
    )
