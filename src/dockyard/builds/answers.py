"""HTTP answers of the builds domain that the build API (web/api/builds.py) and the build pages
(web/pages/builds.py) both give: a build's log as server-sent events, and the status badge.
Who may see them is decided by the caller before it asks for one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from dockyard.builds import params
from dockyard.builds.records import FINISHED, BuildInfo
from dockyard.builds.service import BuildService

STREAM_POLL_SECONDS = 0.5


def log_stream(service: BuildService, build_id: int, request: Request) -> StreamingResponse:
    """Server-sent events: ``line`` events as the log grows, then one ``end`` with the state."""
    start = params.log_position(request.query_params.get("after"), request.headers.get("last-event-id"))

    async def events() -> AsyncIterator[str]:
        after = start
        while True:
            state = (await service.build(build_id)).state
            for line in await service.log(build_id, after):
                after = line.seq
                yield f"id: {line.seq}\nevent: line\ndata: {json.dumps(line.text)}\n\n"
            if state in FINISHED:
                yield f"event: end\ndata: {json.dumps(state)}\n\n"
                return
            yield ": waiting\n\n"
            await anyio.sleep(STREAM_POLL_SECONDS)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


BADGE_COLOURS = {"success": "#4c1", "failed": "#e05d44", "none": "#9f9f9f"}
BADGE = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
    'aria-label="build: {text}">'
    '<rect width="40" height="20" fill="#555"/><rect x="40" width="{right}" height="20" fill="{colour}"/>'
    '<g fill="#fff" font-family="Verdana,sans-serif" font-size="11">'
    '<text x="6" y="14">build</text><text x="46" y="14">{text}</text></g></svg>'
)


def badge_response(build: BuildInfo | None) -> Response:
    """The SVG badge of the newest finished build."""
    text = {"success": "passing", "failed": "failing"}.get(build.state if build else "", "none")
    colour = BADGE_COLOURS[build.state if build else "none"]
    right = 12 + 7 * len(text)
    svg = BADGE.format(width=40 + right, right=right, colour=colour, text=text)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-cache"})
