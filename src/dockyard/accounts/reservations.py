"""Names a lower package reserves in the accounts' ``namespaces`` table, inside the caller's
transaction: the proxy holds a proxy namespace's name here (kind "proxy") so no user or
organisation can take it, and frees it when the namespace goes. The proxy sits below accounts,
so it asks through its ``NamespaceNames`` protocol; the composition root passes this."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from dockyard.accounts._queries import namespaces


class NamespaceReservations:
    """The accounts' side of ``dockyard.proxy.store.NamespaceNames``."""

    def kind(self, conn: Connection, name: str) -> str | None:
        """The kind of the namespace ``name`` (user, org, proxy), None when it is free."""
        kind = conn.execute(select(namespaces.c.kind).where(namespaces.c.name == name)).scalar_one_or_none()
        return None if kind is None else str(kind)

    def reserve(self, conn: Connection, name: str, kind: str, private: bool, at: datetime) -> None:
        conn.execute(namespaces.insert().values(name=name, kind=kind, default_private=private, created_at=at))

    def release(self, conn: Connection, name: str, kind: str) -> None:
        """Free ``name`` if it is still of ``kind`` (an organisation made a proxy keeps its name)."""
        conn.execute(delete(namespaces).where(namespaces.c.name == name, namespaces.c.kind == kind))
