"""Registry enforcement: every /v2/ request carries a bearer token that grants what it needs.

    no or unreadable token      401 UNAUTHORIZED   WWW-Authenticate: Bearer realm,service,scope
    forged, expired, foreign    401 UNAUTHORIZED   ... error="invalid_token"
    token lacks the action      401 UNAUTHORIZED   ... error="insufficient_scope"
    past the pull rate limit    429 TOOMANYREQUESTS

Every 401 says UNAUTHORIZED in its body, as distribution does (DENIED is the spec's code for
a 403). Docker reads the challenge's ``insufficient_scope`` as its DENIED and prints ``denied:
requested access to the resource is denied`` on push and ``pull access denied for NAME,
repository does not exist or may require 'docker login'`` on pull; a private repository
answers exactly as a missing one.

The challenge's ``scope`` names what the request needs. A cross-repository mount
(``POST .../blobs/uploads/?mount=D&from=OTHER``) also names ``repository:OTHER:pull``, as
distribution does, so a client that follows the challenge asks for a token that allows the
mount. The mount itself needs no more than the target's push: without pull on OTHER it
becomes an ordinary upload (202), as the spec says.

The needed actions follow the method, as in distribution: GET/HEAD pull; POST/PUT/PATCH
pull+push; DELETE of a manifest or blob delete. Cancelling an upload (DELETE) needs
pull+push like the rest of the upload, so a pusher without delete rights can clean up.
``/v2/`` needs any valid token (anonymous ones included), ``/v2/_catalog`` the
``registry:catalog:*`` scope. A pure ASGI middleware: a verified token is cached, so the
hot manifest GET pays a dict lookup, not an ECDSA verification.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dockyard.accesslog import note_user
from dockyard.auth.ratelimit import Quota
from dockyard.auth.scopes import CATALOG, REGISTRY, REPOSITORY, canonical
from dockyard.auth.service import AuthService
from dockyard.auth.tokens import AccessToken, InvalidToken
from dockyard.peers import client_ip
from dockyard.registry.caller import CALLER_KEY
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.reference import is_digest
from dockyard.registry.space import storage_full
from dockyard.storage.space import is_disk_full

PULL = frozenset({"pull"})
PUSH = frozenset({"pull", "push"})
DELETE = frozenset({"delete"})
MAX_TOKEN = 16 * 1024

# The registry's routes, in routes.py's order; a name is greedy like Starlette's {name:path}.
_ROUTES = [
    ("tags", re.compile(r"^/v2/(?P<name>.*)/tags/list$")),
    ("manifests", re.compile(r"^/v2/(?P<name>.*)/manifests/(?P<ref>[^/]+)$")),
    ("uploads", re.compile(r"^/v2/(?P<name>.*)/blobs/uploads/?$")),
    ("upload", re.compile(r"^/v2/(?P<name>.*)/blobs/uploads/(?P<ref>[^/]+)$")),
    ("blobs", re.compile(r"^/v2/(?P<name>.*)/blobs/(?P<ref>[^/]+)$")),
    ("referrers", re.compile(r"^/v2/(?P<name>.*)/referrers/(?P<ref>[^/]+)$")),
]


@dataclass(frozen=True, slots=True)
class Need:
    """What a request needs: a resource (type, name as written, canonical name) and actions."""

    type: str
    name: str
    canonical: str | None
    actions: frozenset[str]
    route: str

    @property
    def scope(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"


def need_for(method: str, path: str) -> Need | None:
    """None for /v2/ itself and unknown paths, which need only a valid token."""
    if path == "/v2/_catalog":
        return Need(REGISTRY, CATALOG, CATALOG, frozenset({"*"}), "catalog")
    for route, pattern in _ROUTES:
        match = pattern.match(path)
        if match is None:
            continue
        name = match["name"]
        if method in ("GET", "HEAD"):
            actions = PULL
        elif method == "DELETE" and route in ("manifests", "blobs"):
            actions = DELETE
        else:
            actions = PUSH
        return Need(REPOSITORY, name, canonical(name), actions, route)
    return None


class TokenGuard:
    def __init__(self, app: ASGIApp, auth: AuthService, *, service: str, public_url: str) -> None:
        self.app = app
        self.auth = auth
        self.service = service
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v2"):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        need = need_for(method, path)
        raw = _bearer(scope)
        if raw is None:
            await self._challenge(scope, send, need, None)
            return
        try:
            token = await self.auth.verify(raw)
        except InvalidToken:
            await self._challenge(scope, send, need, "invalid_token")
            return
        if need is not None and need.canonical is not None and not _allows(token, need):
            await self._challenge(scope, send, need, "insufficient_scope")
            return
        scope[CALLER_KEY] = caller = TokenCaller(token, self.auth)
        note_user(scope, caller.username)
        if need is None or need.canonical is None:  # /v2/, unknown routes, invalid names: the app answers
            await self.app(scope, receive, send)
            return
        quota = self._quota(scope, token, need)
        if quota is not None and not quota.allowed:
            await _send_error(scope, send, _rate_limited(), quota.headers(_source(scope, token)))
            return
        if method in ("POST", "PUT") and need.route in ("uploads", "manifests"):
            try:
                await self.auth.ensure_repository(need.canonical, token.account, token.issued_at)
            except RegistryError as refused:  # a creation limit
                await _send_error(scope, send, refused, _encoded(refused.headers))
                return
            except Exception as exc:  # a new repository on a full disk: the registry's 503, not a 500
                if not is_disk_full(exc):
                    raise
                await _send_error(scope, send, storage_full(), [])
                return
        # Manifest pushes and deletes are audited by their outbox events' handlers (accounts/
        # registry_events.py), in the dispatcher's transaction; only a blob DELETE is audited here.
        if quota is None and not _blob_delete(method, need):  # the hot path: nothing to add or audit
            await self.app(scope, receive, send)
            return
        await self._forward(scope, receive, send, token, need, quota)

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, token: AccessToken, need: Need, quota: Quota | None
    ) -> None:
        status = 0
        extra = quota.headers(_source(scope, token)) if quota is not None else []

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if extra:
                    message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_wrapper)
        await self._audit(scope, token, need, status)

    def _quota(self, scope: Scope, token: AccessToken, need: Need) -> Quota | None:
        limiter = self.auth.limiter
        if not limiter.enabled or need.route != "manifests" or scope["method"] not in ("GET", "HEAD"):
            return None
        limit = limiter.limit(token.account is not None)
        if limit == 0:
            return None
        key = f"user:{token.subject}" if token.account is not None else f"ip:{client_ip(scope)}"
        return limiter.check(key, limit, count=scope["method"] == "GET")

    async def _audit(self, scope: Scope, token: AccessToken, need: Need, status: int) -> None:
        if not (_blob_delete(scope["method"], need) and status == 202):
            return
        reference = scope["path"].rsplit("/", 1)[1]
        detail = {"digest" if is_digest(reference) else "tag": reference, "resource": need.route}
        await self.auth.audit(
            "delete", actor=token.subject or None, ip=client_ip(scope), target=need.canonical, detail=detail
        )

    async def _challenge(self, scope: Scope, send: Send, need: Need | None, error: str | None) -> None:
        parts = [f'realm="{self._realm(scope)}"', f'service="{self.service}"']
        needs = _challenge_needs(scope, need)
        if needs:
            parts.append(f'scope="{" ".join(n.scope for n in needs)}"')
        if error is not None:
            parts.append(f'error="{error}"')
        challenge = [(b"www-authenticate", ("Bearer " + ",".join(parts)).encode())]
        error_body = RegistryError(ErrorCode.UNAUTHORIZED, _detail(needs))
        await _send_error(scope, send, error_body, challenge, status=401)

    def _realm(self, scope: Scope) -> str:
        if self.public_url:
            return f"{self.public_url}/token"
        host = _header(scope, b"host") or ""
        if not _HOST_RE.match(host):
            server = scope.get("server") or ("localhost", None)
            host = f"{server[0]}:{server[1]}" if server[1] else str(server[0])
        return f"{scope.get('scheme', 'http')}://{host}/token"


_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$")


class TokenCaller:
    """The caller as the registry handlers see it (``registry.caller.Caller``)."""

    def __init__(self, token: AccessToken, auth: AuthService) -> None:
        self.token = token
        self.auth = auth

    @property
    def username(self) -> str | None:
        account = self.token.account
        return account.username if account is not None else None

    def may_pull(self, repository: str) -> bool:
        name = canonical(repository)
        return name is not None and "pull" in self.token.actions(REPOSITORY, name)

    async def readable(self, repositories: list[str]) -> list[str]:
        return await self.auth.readable(self.token.account, repositories)

    async def catalog(self, limit: int | None, last: str | None) -> tuple[list[str], str | None]:
        page = await self.auth.catalog(self.token.account, limit, last)
        return page.items, page.last


def _blob_delete(method: str, need: Need) -> bool:
    return method == "DELETE" and need.route == "blobs"


def _allows(token: AccessToken, need: Need) -> bool:
    granted = token.actions(need.type, need.canonical or "")
    return need.actions <= granted or (need.type == REGISTRY and "*" in granted)


def _challenge_needs(scope: Scope, need: Need | None) -> list[Need]:
    """What the challenge names: the request's need, plus pull on a mount's source repository."""
    if need is None or need.canonical is None:
        return []
    if scope["method"] != "POST" or need.route != "uploads":
        return [need]
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    source = query.get("from", [""])[0]
    source_name = canonical(source) if "mount" in query and source else None
    if source_name is None or source_name == need.canonical:
        return [need]
    return [need, Need(REPOSITORY, source, source_name, PULL, "blobs")]


def _detail(needs: list[Need]) -> list[dict[str, str]] | None:
    if not needs:
        return None
    return [
        {"Type": n.type, "Class": "", "Name": n.name, "Action": a} for n in needs for a in sorted(n.actions)
    ]


def _rate_limited() -> RegistryError:
    return RegistryError(
        ErrorCode.TOOMANYREQUESTS,
        message="You have reached your pull rate limit. You may increase the limit by authenticating "
        "and upgrading",
    )


async def _send_error(
    scope: Scope,
    send: Send,
    error: RegistryError,
    headers: list[tuple[bytes, bytes]],
    status: int | None = None,
) -> None:
    body = json.dumps(error.body()).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status or error.status, "headers": [*start, *headers]}
    )
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(key.lower().encode("latin-1"), value.encode("latin-1")) for key, value in headers.items()]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _bearer(scope: Scope) -> str | None:
    value = _header(scope, b"authorization")
    if value is None or len(value) > MAX_TOKEN:
        return None
    scheme, _, token = value.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _source(scope: Scope, token: AccessToken) -> str:
    return token.subject if token.account is not None else (client_ip(scope) or "unknown")
