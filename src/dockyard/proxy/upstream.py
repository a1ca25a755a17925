"""One upstream registry, reached through the outbound guard with the upstream's own auth.

    anonymous       requests go out bare
    Basic           a 401 with a Basic challenge is answered with the proxy's credentials
    Docker token    a 401 with a Bearer challenge: GET <realm>?service=..&scope=repository:P:pull
                    (with the credentials as Basic, when there are any), then the request again
                    with the token; tokens are kept per scope until they expire

Every connection (the upstream, its token realm, any redirect of a blob to a CDN) goes through
``guarded_http`` and so through ``netguard``'s policy; httpx drops the Authorization header when
a redirect leaves the upstream's origin. A realm is refused when it is not http(s), or plain
http behind an https upstream (the credentials would cross the network in the clear).

    UpstreamError            the message is safe to show: never the upstream's body
     ├── UpstreamUnavailable  unreachable, timed out, 5xx, 429: a cached answer may stand in
     ├── UpstreamMissing      404: the upstream has no such thing
     └── UpstreamRefused      401/403 after authenticating, a refused realm, a bad answer
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from dockyard.proxy.records import Credentials, UpstreamManifest
from dockyard.registry.manifests import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST

log = logging.getLogger(__name__)

ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
MAX_TOKEN_BYTES = 64 * 1024
RateLimitHook = Callable[[float | None, float | None], None]  # (remaining, limit): the metrics' gauges
RATE_LIMIT_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "docker-ratelimit-source", "retry-after")
DOCKER_HUB_HOSTS = frozenset({"registry-1.docker.io", "docker.io", "index.docker.io"})
_PARAM = re.compile(r'(\w+)="([^"]*)"')


class UpstreamError(Exception):
    pass


class UpstreamUnavailable(UpstreamError):
    pass


class UpstreamMissing(UpstreamError):
    pass


class UpstreamRefused(UpstreamError):
    pass


class Upstream:
    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None,
        client: httpx.AsyncClient,
        *,
        max_manifest_bytes: int,
        on_rate_limit: RateLimitHook | None = None,
    ) -> None:
        self.base_url = base_url
        self.on_rate_limit = on_rate_limit  # told each answer's RateLimit-Remaining and -Limit
        self.credentials = credentials
        self.client = client
        self.max_manifest_bytes = max_manifest_bytes
        self._tokens: dict[str, tuple[str, float]] = {}
        self._docker_hub = (urlsplit(base_url).hostname or "") in DOCKER_HUB_HOSTS

    def upstream_path(self, path: str) -> str:
        """Docker Hub keeps official images under library/, which its clients add themselves."""
        return f"library/{path}" if self._docker_hub and "/" not in path else path

    # -- the three questions ---------------------------------------------------------------

    async def manifest(self, path: str, reference: str) -> UpstreamManifest:
        async with self._request("GET", path, f"manifests/{reference}") as response:
            content = bytearray()
            async for chunk in response.aiter_bytes():
                content += chunk
                if len(content) > self.max_manifest_bytes:
                    raise UpstreamRefused(
                        f"the upstream manifest is larger than {self.max_manifest_bytes} bytes"
                    )
            media_type = response.headers.get("content-type", "").split(";")[0].strip()
            return UpstreamManifest(
                response.headers.get("docker-content-digest", ""), media_type, bytes(content)
            )

    async def manifest_digest(self, path: str, reference: str) -> str | None:
        """The digest the upstream has for a tag now (a HEAD, which Docker Hub does not count)."""
        async with self._request("HEAD", path, f"manifests/{reference}") as response:
            return response.headers.get("docker-content-digest") or None

    async def blob_size(self, path: str, digest: str) -> int | None:
        async with self._request("HEAD", path, f"blobs/{digest}") as response:
            return _length(response)

    @contextlib.asynccontextmanager
    async def blob(self, path: str, digest: str) -> AsyncIterator[httpx.Response]:
        async with self._request("GET", path, f"blobs/{digest}") as response:
            yield response

    # -- requests and auth ------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _request(self, method: str, path: str, tail: str) -> AsyncIterator[httpx.Response]:
        upstream = self.upstream_path(path)
        url = f"{self.base_url}/v2/{upstream}/{tail}"
        scope = f"repository:{upstream}:pull"
        response = await self._send(method, url, scope)
        try:
            if response.status_code == 401:
                authorization = await self._answer(response, scope)
                await response.aclose()
                response = await self._send(method, url, scope, authorization)
            _log_rate_limit(response)
            self._report_rate_limit(response)
            _raise_for(response)
            yield response
        finally:
            await response.aclose()

    def _report_rate_limit(self, response: httpx.Response) -> None:
        remaining, limit = _quota(response, "ratelimit-remaining"), _quota(response, "ratelimit-limit")
        if self.on_rate_limit is not None and (remaining is not None or limit is not None):
            self.on_rate_limit(remaining, limit)

    async def _send(
        self, method: str, url: str, scope: str, authorization: str | None = None
    ) -> httpx.Response:
        headers = {"Accept": ACCEPT, "Accept-Encoding": "identity"}
        authorization = authorization or self._cached_token(scope)
        if authorization:
            headers["Authorization"] = authorization
        request = self.client.build_request(method, url, headers=headers)
        try:
            return await self.client.send(request, stream=True, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"the upstream {self.base_url} is unreachable: {_reason(exc)}"
            ) from None

    def _cached_token(self, scope: str) -> str | None:
        found = self._tokens.get(scope)
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]

    async def _answer(self, response: httpx.Response, scope: str) -> str:
        """The Authorization header that answers the upstream's 401 challenge."""
        challenge = response.headers.get("www-authenticate", "")
        kind, _, rest = challenge.partition(" ")
        if kind.lower() == "basic" and self.credentials is not None:
            return _basic(self.credentials)
        if kind.lower() != "bearer":
            raise UpstreamRefused(f"the upstream {self.base_url} asks for credentials it was not given")
        params = dict(_PARAM.findall(rest))
        token, expires_in = await self._token(params, scope)
        self._tokens[scope] = (f"Bearer {token}", time.monotonic() + max(expires_in - 10, 0))
        return f"Bearer {token}"

    async def _token(self, challenge: dict[str, str], scope: str) -> tuple[str, float]:
        realm = challenge.get("realm", "")
        _check_realm(realm, self.base_url)
        query = {"scope": scope}
        if challenge.get("service"):
            query["service"] = challenge["service"]
        auth = None
        if self.credentials is not None:
            auth = httpx.BasicAuth(self.credentials.username, self.credentials.password)
        try:
            async with self.client.stream("GET", realm, params=query, auth=auth) as answer:
                if answer.status_code != 200:
                    raise UpstreamRefused(
                        f"the upstream's token service refused the proxy ({answer.status_code})"
                    )
                body = await _read_limited(answer, MAX_TOKEN_BYTES)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"the upstream's token service is unreachable: {_reason(exc)}"
            ) from None
        return _token_of(body)


def _basic(credentials: Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _check_realm(realm: str, base_url: str) -> None:
    parts = urlsplit(realm)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UpstreamRefused("the upstream's token realm is not an http(s) URL")
    if parts.scheme == "http" and urlsplit(base_url).scheme == "https":
        raise UpstreamRefused("the upstream's token realm is plain http behind an https upstream")


async def _read_limited(response: httpx.Response, limit: int) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise UpstreamRefused("the upstream's token answer is too large")
    return bytes(body)


def _token_of(body: bytes) -> tuple[str, float]:
    import json

    try:
        answer: Any = json.loads(body)
        token = answer.get("token") or answer.get("access_token")
        expires_in = float(answer.get("expires_in") or 60)
    except (ValueError, AttributeError, TypeError):
        raise UpstreamRefused("the upstream's token service answered something else than a token") from None
    if not isinstance(token, str) or not token:
        raise UpstreamRefused("the upstream's token service answered without a token")
    return token, expires_in


def _raise_for(response: httpx.Response) -> None:
    status = response.status_code
    if status < 300:
        return
    if status == 404:
        raise UpstreamMissing("not found upstream")
    if status == 429 or status >= 500:
        raise UpstreamUnavailable(f"the upstream answered {status}")
    raise UpstreamRefused(f"the upstream refused the request ({status})")


def _length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


def _log_rate_limit(response: httpx.Response) -> None:
    found = {name: response.headers[name] for name in RATE_LIMIT_HEADERS if name in response.headers}
    if found:
        log.info("upstream %s rate limit: %s", response.request.url.host, found)


def _quota(response: httpx.Response, name: str) -> float | None:
    """The number of a RateLimit header (``76;w=21600``: 76), None when absent or not a number."""
    value = response.headers.get(name, "").split(";")[0].strip()
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _reason(exc: httpx.HTTPError) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
