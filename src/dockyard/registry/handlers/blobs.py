from __future__ import annotations

import os

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.handlers.common import empty, registry, repository
from dockyard.registry.reference import parse_digest
from dockyard.registry.service import BlobLocation

OCTET_STREAM = "application/octet-stream"


async def get_blob(request: Request) -> Response:
    name = repository(request)
    digest = parse_digest(request.path_params["digest"])
    location = await registry(request).blob(name, digest, head=request.method == "HEAD")
    if request.method == "HEAD":  # a pusher asking whether to upload: it will reference the blob
        await registry(request).touch_blob(name, digest)
    headers = {
        "Docker-Content-Digest": str(digest),
        "ETag": f'"{digest}"',
        "Cache-Control": "max-age=31536000",
        "Accept-Ranges": "bytes",
    }
    if location.upstream is not None:
        return _from_upstream(request, location, headers)
    if (accel := request.app.state.settings.accel_redirect) and location.local_file is not None:
        # nginx sends the file (sendfile, ranges) from its internal location; access was checked.
        del headers["Accept-Ranges"]  # nginx says it, and answers the ranges
        headers["X-Accel-Redirect"] = accel + location.path
        return Response(status_code=200, headers=headers, media_type=OCTET_STREAM)
    if request.method == "GET" and (url := await registry(request).storage.redirect_url(location.path)):
        # The store serves the bytes itself (a presigned URL), after access was checked here.
        return RedirectResponse(url, status_code=307, headers=headers)
    if location.local_file is not None:
        try:
            stat = await anyio.to_thread.run_sync(os.stat, location.local_file)
        except FileNotFoundError:
            raise RegistryError(ErrorCode.BLOB_UNKNOWN, {"digest": str(digest)}) from None
        # Starlette's FileResponse handles Range and uses the server's pathsend (zero-copy) when offered.
        return FileResponse(location.local_file, headers=headers, media_type=OCTET_STREAM, stat_result=stat)
    return _stream(request, location, headers)


def _from_upstream(request: Request, location: BlobLocation, headers: dict[str, str]) -> Response:
    """A blob a proxy namespace is fetching: whole (a Range is answered with all of it, which
    HTTP allows), streamed as it arrives, of the upstream's length when it said."""
    assert location.upstream is not None
    del headers["Accept-Ranges"]
    if location.size is not None:
        headers["Content-Length"] = str(location.size)
    chunks = location.upstream.chunks
    if request.method == "HEAD" or chunks is None:
        return Response(status_code=200, headers=headers, media_type=OCTET_STREAM)
    return StreamingResponse(chunks, headers=headers, media_type=OCTET_STREAM)


def _stream(request: Request, location: BlobLocation, headers: dict[str, str]) -> Response:
    """Backends without a local file: stream, honouring a single byte range."""
    size = location.size
    assert size is not None
    start, end, status = 0, size - 1, 200
    byte_range = request.headers.get("range")
    if byte_range is not None:
        start, end = _single_range(byte_range, size)
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(max(end - start + 1, 0))
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=OCTET_STREAM)
    reader = registry(request).storage.reader(location.path, start, end - start + 1)
    return StreamingResponse(reader, status_code=status, headers=headers, media_type=OCTET_STREAM)


def _single_range(value: str, size: int) -> tuple[int, int]:
    unit, _, spec = value.partition("=")
    first, dash, last = spec.strip().partition("-")
    try:
        if unit.strip() != "bytes" or not dash or "," in spec:
            raise ValueError
        if first:
            start, end = int(first), int(last) if last else size - 1
        else:
            start, end = max(size - int(last), 0), size - 1
    except ValueError:
        start, end = size, size  # unparseable ranges are unsatisfiable
    if start >= size or start > end:
        raise RegistryError(
            ErrorCode.RANGE_INVALID,
            {"range": value},
            message="range not satisfiable",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, min(end, size - 1)


async def delete_blob(request: Request) -> Response:
    name = repository(request)
    digest = parse_digest(request.path_params["digest"])
    await registry(request).delete_blob(name, digest)
    return empty(202, {"Docker-Content-Digest": str(digest)})
