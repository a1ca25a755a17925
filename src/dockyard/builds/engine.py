"""The Docker Engine, through its HTTP API on the engine's socket; no ``docker`` program runs.

Builds, pulls and pushes pass every value as data: the build context is a tar we stream,
build arguments a JSON map, credentials the ``X-Registry-Config`` / ``X-Registry-Auth``
headers (base64 JSON). Nothing from a source or a rule reaches a command line or an
environment on the host. Progress arrives as a stream of JSON objects, turned into log lines:

    {"stream": "Step 1/3 : FROM ...\\n"}          text, split into lines as it arrives
    {"status": "Pulling fs layer", "id": "..."}   pull and push progress (progress bars dropped)
    {"aux": {"ID": "sha256:..."}}                 the built image; for a push {"Tag", "Digest", "Size"}
    {"error": "...", "errorDetail": {...}}        the step failed: EngineError

Containers (the hook sandbox) are made, fed and read through the same API: archives in and out,
the multiplexed log stream, the exit status.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from dockyard.builds.runtime import LogWriter

API = "/v1.41"
MAX_PENDING = 1024 * 1024
MAX_LINE = 4000


class EngineError(Exception):
    """The engine refused or a step it ran failed; the message is the engine's own."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def registry_header(value: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


class Lines:
    """Text arriving in pieces, handed on a line at a time (an endless line is cut)."""

    def __init__(self, log: LogWriter) -> None:
        self.log, self.pending = log, ""

    def feed(self, text: str) -> None:
        *done, self.pending = (self.pending + text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for line in done:
            self.log(line)
        if len(self.pending) > MAX_LINE:
            self.log(self.pending)
            self.pending = ""

    def close(self) -> None:
        if self.pending:
            self.log(self.pending)
            self.pending = ""


class Progress:
    """One JSON progress stream: logs it, remembers ``aux``, raises on ``error``."""

    def __init__(self, log: LogWriter) -> None:
        self.lines = Lines(log)
        self.log = log
        self.aux: list[dict[str, Any]] = []

    def event(self, event: Any) -> None:
        if not isinstance(event, dict):
            return
        if isinstance(event.get("stream"), str):
            self.lines.feed(event["stream"])
        if event.get("error"):
            self.lines.close()
            raise EngineError(str(event["error"]))
        if isinstance(event.get("aux"), dict):
            self.aux.append(event["aux"])
        status = event.get("status")
        if isinstance(status, str) and not event.get("progressDetail"):
            self.lines.close()
            self.log(f"{event['id']}: {status}" if event.get("id") else status)

    async def consume(self, chunks: AsyncIterator[bytes]) -> None:
        decoder, buffer = json.JSONDecoder(), ""
        async for chunk in chunks:
            buffer += chunk.decode(errors="replace")
            while buffer := buffer.lstrip():
                try:
                    event, end = decoder.raw_decode(buffer)
                except ValueError:
                    if len(buffer) > MAX_PENDING:
                        raise EngineError("the engine sent an unreadable progress stream") from None
                    break
                buffer = buffer[end:]
                self.event(event)
        self.lines.close()


def client(docker_host: str) -> httpx.AsyncClient:
    """An HTTP client for the engine at ``unix:///path`` or ``tcp://host:port``."""
    parts = urlsplit(docker_host)
    timeout = httpx.Timeout(30.0, read=None)
    if parts.scheme == "unix":
        return httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=parts.path), base_url="http://docker", timeout=timeout
        )
    if parts.scheme in ("tcp", "http"):
        return httpx.AsyncClient(base_url=f"http://{parts.netloc}", timeout=timeout, trust_env=False)
    raise ValueError(f"unsupported engine address {docker_host!r}: use unix:///path or tcp://host:port")


class Engine:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def _check(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            await response.aread()
            try:
                message = str(response.json().get("message") or response.text)
            except ValueError:
                message = response.text
            raise EngineError(message.strip() or f"HTTP {response.status_code}", response.status_code)

    async def _progress(
        self, method: str, path: str, log: LogWriter, *, content: AsyncIterable[bytes] | None = None,
        params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        progress = Progress(log)
        async with self.http.stream(
            method, API + path, params=params, headers=headers, content=content
        ) as response:
            await self._check(response)
            await progress.consume(response.aiter_bytes())
        return progress.aux

    # -- images ---------------------------------------------------------------------------------

    async def build(
        self,
        context: AsyncIterable[bytes],
        params: Mapping[str, str],
        auths: Mapping[str, Any],
        log: LogWriter,
    ) -> str:
        """Build from a tar context; the image id."""
        headers = {"Content-Type": "application/x-tar", "X-Registry-Config": registry_header(auths)}
        aux = await self._progress("POST", "/build", log, content=context, params=params, headers=headers)
        ids = [str(a["ID"]) for a in aux if a.get("ID")]
        if not ids:
            raise EngineError("the engine reported no image")
        return ids[-1]

    async def pull(self, image: str, tag: str, auth: Mapping[str, Any], log: LogWriter) -> None:
        params = {"fromImage": image, "tag": tag}
        headers = {"X-Registry-Auth": registry_header(auth)}
        await self._progress("POST", "/images/create", log, params=params, headers=headers)

    async def push(self, repository: str, tag: str, auth: Mapping[str, Any], log: LogWriter) -> str:
        """Push one tag; the manifest digest the registry answered."""
        headers = {"X-Registry-Auth": registry_header(auth)}
        path = f"/images/{quote(repository, safe='/:')}/push"
        aux = await self._progress("POST", path, log, params={"tag": tag}, headers=headers)
        digests = [str(a["Digest"]) for a in aux if a.get("Digest")]
        return digests[-1] if digests else ""

    async def tag(self, image: str, repository: str, tag: str) -> None:
        response = await self.http.post(
            f"{API}/images/{quote(image, safe='/:')}/tag", params={"repo": repository, "tag": tag}
        )
        await self._check(response)

    async def image_id(self, image: str) -> str | None:
        response = await self.http.get(f"{API}/images/{quote(image, safe='/:')}/json")
        if response.status_code == 404:
            return None
        await self._check(response)
        return str(response.json()["Id"])

    async def remove_image(self, image: str) -> None:
        """Untag (or remove) an image; a missing one or one still in use is left as it is."""
        response = await self.http.delete(f"{API}/images/{quote(image, safe='/:')}")
        if response.status_code not in (404, 409):
            await self._check(response)

    # -- containers -----------------------------------------------------------------------------

    async def create(self, config: Mapping[str, Any], name: str) -> str:
        response = await self.http.post(f"{API}/containers/create", params={"name": name}, json=config)
        await self._check(response)
        return str(response.json()["Id"])

    async def put_archive(self, container: str, path: str, tar: AsyncIterable[bytes]) -> None:
        response = await self.http.put(
            f"{API}/containers/{container}/archive",
            params={"path": path, "noOverwriteDirNonDir": "true"},
            content=tar,
            headers={"Content-Type": "application/x-tar"},
        )
        await self._check(response)

    async def start(self, container: str) -> None:
        await self._check(await self.http.post(f"{API}/containers/{container}/start"))

    async def follow_logs(self, container: str, log: LogWriter) -> None:
        """The container's stdout and stderr, line by line, until it exits."""
        params = {"follow": "true", "stdout": "true", "stderr": "true"}
        lines = {1: Lines(log), 2: Lines(log)}
        async with self.http.stream("GET", f"{API}/containers/{container}/logs", params=params) as response:
            await self._check(response)
            buffer = b""
            async for chunk in response.aiter_bytes():
                buffer += chunk
                while len(buffer) >= 8:
                    kind, size = struct.unpack(">BxxxL", buffer[:8])
                    if len(buffer) < 8 + size:
                        break
                    text = buffer[8 : 8 + size].decode(errors="replace")
                    lines.get(kind, lines[1]).feed(text)
                    buffer = buffer[8 + size :]
        for stream in lines.values():
            stream.close()

    async def wait(self, container: str) -> int:
        response = await self.http.post(f"{API}/containers/{container}/wait")
        await self._check(response)
        return int(response.json().get("StatusCode", -1))

    async def get_archive(self, container: str, path: str) -> AsyncIterator[bytes]:
        async with self.http.stream(
            "GET", f"{API}/containers/{container}/archive", params={"path": path}
        ) as response:
            await self._check(response)
            async for chunk in response.aiter_bytes():
                yield chunk

    async def remove_container(self, container: str) -> None:
        response = await self.http.delete(
            f"{API}/containers/{container}", params={"force": "true", "v": "true"}
        )
        if response.status_code != 404:
            await self._check(response)
