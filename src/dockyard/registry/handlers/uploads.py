from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from dockyard.digests import Digest
from dockyard.registry.caller import caller_of
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.handlers.common import (
    body_stream,
    content_length,
    content_range,
    empty,
    registry,
    repository,
)
from dockyard.registry.records import UploadStatus
from dockyard.registry.reference import canonical_name, parse_digest


def _upload_headers(request: Request, status: UploadStatus) -> dict[str, str]:
    return {
        "Location": f"/v2/{request.path_params['name']}/blobs/uploads/{status.id}",
        "Range": f"0-{max(status.offset - 1, 0)}",
        "Docker-Upload-UUID": status.id,
    }


def _created(request: Request, digest: Digest) -> Response:
    return empty(
        201,
        {
            "Location": f"/v2/{request.path_params['name']}/blobs/{digest}",
            "Docker-Content-Digest": str(digest),
        },
    )


async def start_upload(request: Request) -> Response:
    name = repository(request)
    reg = registry(request)
    await reg.check_not_proxied(name)
    params = request.query_params
    if "mount" in params:
        digest = parse_digest(params["mount"])
        sources = await _mount_sources(request, params.get("from"), digest)
        if await reg.mount(name, digest, sources) is not None:
            return _created(request, digest)
    elif "digest" in params:
        digest = parse_digest(params["digest"])
        await reg.uploads.upload_whole(name, digest, body_stream(request), content_length(request))
        return _created(request, digest)
    status = await reg.uploads.start(name)
    headers = _upload_headers(request, status)
    headers["OCI-Chunk-Min-Length"] = str(request.app.state.settings.chunk_min_length)
    return empty(202, headers)


async def _mount_sources(request: Request, source: str | None, digest: Digest) -> list[str]:
    """Where a blob may be mounted from: the ``from`` repository if the caller's token grants
    pull on it, else any repository holding the blob that the caller may read."""
    caller = caller_of(request.scope)
    if source:
        allowed = caller is None or caller.may_pull(source)
        return [canonical_name(source)] if allowed else []
    holders = await registry(request).store.repositories_with_blob(str(digest))
    return holders if caller is None else await caller.readable(holders)


async def upload_status(request: Request) -> Response:
    status = await registry(request).uploads.status(repository(request), request.path_params["uuid"])
    return empty(204, _upload_headers(request, status))


def _chunk(request: Request) -> tuple[int | None, int | None]:
    """Where the body's bytes start (from Content-Range) and how many there are."""
    length = content_length(request)
    chunk = content_range(request)
    if chunk is None:
        return None, length
    if length is not None and length != chunk[1] - chunk[0] + 1:
        raise RegistryError(
            ErrorCode.RANGE_INVALID,
            {"content_range": list(chunk), "content_length": length},
            message="Content-Range and Content-Length disagree",
        )
    return chunk[0], length


async def patch_upload(request: Request) -> Response:
    start, length = _chunk(request)
    status = await registry(request).uploads.append(
        repository(request), request.path_params["uuid"], body_stream(request), start=start, length=length
    )
    return empty(202, _upload_headers(request, status))


async def finish_upload(request: Request) -> Response:
    name = repository(request)
    value = request.query_params.get("digest")
    if not value:
        raise RegistryError(ErrorCode.DIGEST_INVALID, message="the digest query parameter is required")
    digest = parse_digest(value)
    start, length = _chunk(request)
    await registry(request).uploads.complete(
        name, request.path_params["uuid"], digest, body_stream(request), start=start, length=length
    )
    return _created(request, digest)


async def cancel_upload(request: Request) -> Response:
    await registry(request).uploads.cancel(repository(request), request.path_params["uuid"])
    return empty(204, {})
