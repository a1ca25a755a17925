from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dockyard.registry.handlers.common import registry, repository
from dockyard.registry.manifests import OCI_INDEX
from dockyard.registry.reference import parse_digest


async def list_referrers(request: Request) -> Response:
    name = repository(request)
    subject = parse_digest(request.path_params["digest"])
    artifact_type = request.query_params.get("artifactType")
    index = await registry(request).referrers(name, subject, artifact_type)
    headers = {"OCI-Filters-Applied": "artifactType"} if artifact_type else {}
    return JSONResponse(index, media_type=OCI_INDEX, headers=headers)
