"""Liveness and readiness, for load balancers and orchestrators.

    GET /healthz   200 {"status": "ok"} while the process serves requests at all
    GET /readyz    200 when the database answers a query and the storage backend a stat;
                   503 {"status": "unavailable", "database": ..., "storage": ...} naming what failed

Both answer without authentication and say nothing beyond ok or the kind of failure.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

import anyio
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dockyard.db.engine import Database
from dockyard.storage import PathNotFound, StorageDriver

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 5.0

Endpoint = Callable[[Request], Awaitable[Response]]


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def readyz(database: Database, storage: StorageDriver) -> Endpoint:
    async def check_database() -> None:
        def query() -> None:
            with database.read.connect() as conn:
                conn.execute(text("SELECT 1"))

        await anyio.to_thread.run_sync(query)

    async def check_storage() -> None:
        with contextlib.suppress(PathNotFound):  # a new registry has no blobs yet: the backend answered
            await storage.stat("blobs")

    async def ready(request: Request) -> Response:
        checks = {"database": await _probe(check_database), "storage": await _probe(check_storage)}
        ok = all(result == "ok" for result in checks.values())
        body = {"status": "ok" if ok else "unavailable", **checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    return ready


async def _probe(check: Callable[[], Awaitable[None]]) -> str:
    try:
        with anyio.fail_after(TIMEOUT_SECONDS):
            await check()
    except TimeoutError:
        return "timeout"
    except Exception as exc:
        log.warning("readiness check failed: %s", exc)
        return "error"
    return "ok"
