"""Read models of the builds' tables for the layers above (the composition root's metrics),
inside the caller's connection: numbers out, never the tables.

    queued_count(conn)     builds waiting for a worker (the ``dockyard_build_queue_depth`` gauge)
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from dockyard.builds.models import Build

_QUEUED = select(func.count()).select_from(Build).where(Build.state == "queued")


def queued_count(conn: Connection) -> int:
    return int(conn.execute(_QUEUED).scalar_one())
