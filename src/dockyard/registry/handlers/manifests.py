from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from dockyard.registry.handlers.common import actor, change_actor, empty, read_limited, registry, repository
from dockyard.registry.manifests import accepted_types


async def get_manifest(request: Request) -> Response:
    name = repository(request)
    accepted = accepted_types(request.headers.getlist("accept"))
    reference = request.path_params["reference"]
    if request.method == "HEAD":
        stored = await registry(request).manifest(name, reference, accepted)
    else:
        stored = await registry(request).pull_manifest(name, reference, accepted, actor(request))
    headers = {
        "Docker-Content-Digest": stored.digest,
        "ETag": f'"{stored.digest}"',
        "Content-Length": str(stored.size),
    }
    body = b"" if request.method == "HEAD" else stored.content
    return Response(body, media_type=stored.media_type, headers=headers)


async def put_manifest(request: Request) -> Response:
    name = repository(request)
    reg = registry(request)
    content = await read_limited(request, reg.max_manifest_bytes)
    result = await reg.put_manifest(
        name,
        request.path_params["reference"],
        content,
        request.headers.get("content-type"),
        request.query_params.getlist("tag"),
        change_actor(request),
    )
    headers = {
        "Location": f"/v2/{request.path_params['name']}/manifests/{result.digest}",
        "Docker-Content-Digest": result.digest,
    }
    if result.subject:
        headers["OCI-Subject"] = result.subject
    return empty(201, headers)


async def delete_manifest(request: Request) -> Response:
    await registry(request).delete_manifest(
        repository(request), request.path_params["reference"], change_actor(request)
    )
    return empty(202, {})
