"""Read models of the proxy's tables for the packages above (the access policy in accounts),
inside the caller's connection: records out, never the tables.

    proxy_privacy(conn, namespace)   whether a proxy namespace is private, None when not a proxy
    has_mirror(conn)                 whether an instance mirror is configured
    proxy_since(conn, namespace)     when a proxy namespace was added, None when not a proxy
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from dockyard.proxy.store import proxies


def proxy_privacy(conn: Connection, namespace: str) -> bool | None:
    row = conn.execute(select(proxies.c.is_private).where(proxies.c.namespace == namespace)).first()
    return None if row is None else bool(row.is_private)


def has_mirror(conn: Connection) -> bool:
    return conn.execute(select(proxies.c.id).where(proxies.c.is_mirror).limit(1)).first() is not None


def proxy_since(conn: Connection, namespace: str) -> datetime | None:
    row = conn.execute(select(proxies.c.created_at).where(proxies.c.namespace == namespace)).first()
    return None if row is None else row.created_at
