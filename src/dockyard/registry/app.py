"""The registry's ASGI pieces: error rendering (the API version header is the edge's, edge.py)."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.space import storage_full
from dockyard.storage import StorageFull, StorageUnavailable

log = logging.getLogger(__name__)


async def registry_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RegistryError)
    if request.method == "HEAD":
        # A HEAD response has no body; the status and headers say it all.
        return Response(status_code=exc.status, headers=exc.headers)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def storage_full_error(request: Request, exc: Exception) -> Response:
    """A full disk, wherever it struck: 503 in the registry's format (see ``registry.space``)."""
    assert isinstance(exc, StorageFull)
    log.warning("refused %s %s: %s", request.method, request.url.path, exc)
    return await registry_error(request, storage_full())


async def storage_unavailable_error(request: Request, exc: Exception) -> Response:
    """The object store did not answer (or asked us to slow down): 503, worth a retry."""
    assert isinstance(exc, StorageUnavailable)
    log.warning("storage unavailable for %s %s: %s", request.method, request.url.path, exc)
    error = RegistryError(ErrorCode.UNAVAILABLE, message="storage backend unavailable, try again later")
    return await registry_error(request, error)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's routing errors, rendered in the registry's format under /v2/."""
    assert isinstance(exc, HTTPException)
    if not request.url.path.startswith("/v2"):
        return Response(exc.detail, status_code=exc.status_code, headers=exc.headers)
    if exc.status_code == 405:
        error = RegistryError(ErrorCode.UNSUPPORTED, {"method": request.method})
    else:
        error = RegistryError(ErrorCode.NAME_UNKNOWN, {"path": request.url.path}, message="unknown endpoint")
    body = {} if request.method == "HEAD" else error.body()
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
