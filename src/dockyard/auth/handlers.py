"""The token endpoint, as Docker's token spec and its OAuth2 variant describe it.

    GET  /token?service=&scope=...&account=&offline_token=true&client_id=     Basic credentials or none
         -> {"token", "access_token", "expires_in", "issued_at"[, "refresh_token"]}
    POST /token   grant_type=password (username, password[, access_type=offline])
                  grant_type=refresh_token (refresh_token)           + service, scope, client_id
         -> {"access_token", "token", "scope", "expires_in", "issued_at"[, "refresh_token"]}

Failures are registry errors; a wrong password is 401 UNAUTHORIZED "incorrect username or
password", which docker prints as ``unauthorized: incorrect username or password``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dockyard.accounts.records import Principal
from dockyard.auth.scopes import parse_scopes
from dockyard.auth.service import MAX_SECRET, AuthService, TokenGrant
from dockyard.peers import client_ip
from dockyard.registry.errors import ErrorCode, RegistryError

MAX_FORM_BYTES = 64 * 1024
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class BadTokenRequest(RegistryError):
    """A request the token endpoint cannot parse: 400, in the registry's error format."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.UNSUPPORTED, message=message)

    @property
    def status(self) -> int:
        return 400


def token_routes() -> list[Route]:
    return [
        Route("/token", get_token, methods=["GET"]),
        Route("/token", post_token, methods=["POST"]),
    ]


def _auth(request: Request) -> AuthService:
    auth: AuthService = request.app.state.auth
    return auth


async def get_token(request: Request) -> Response:
    auth = _auth(request)
    credentials = basic_credentials(request.headers.get("authorization"))
    principal = None
    if credentials is not None:
        principal = await auth.login(*credentials, client_ip(request))
    offline = request.query_params.get("offline_token", "").lower() == "true"
    grant = await auth.issue(principal, parse_scopes(request.query_params.getlist("scope")), offline=offline)
    body: dict[str, Any] = {"token": grant.token, **_common(grant)}
    return JSONResponse(body, headers=NO_STORE)


async def post_token(request: Request) -> Response:
    auth = _auth(request)
    form = await _form(request)
    grant_type = form.get("grant_type", "")
    principal: Principal
    if grant_type == "password":
        principal = await auth.login(form.get("username", ""), form.get("password", ""), client_ip(request))
        offline = form.get("access_type", "") == "offline"
    elif grant_type == "refresh_token":
        principal = await auth.refreshed(form.get("refresh_token", ""), client_ip(request))
        offline = False  # the client keeps the refresh token it has
    else:
        raise BadTokenRequest("unsupported grant_type: use password or refresh_token")
    grant = await auth.issue(principal, parse_scopes([form.get("scope", "")]), offline=offline)
    body = {
        "token": grant.token,
        **_common(grant),
        "scope": " ".join(str(s) for s in grant.scopes if s.actions),
    }
    return JSONResponse(body, headers=NO_STORE)


def _common(grant: TokenGrant) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access_token": grant.token,
        "expires_in": grant.expires_in,
        "issued_at": grant.issued_at,
    }
    if grant.refresh_token is not None:
        body["refresh_token"] = grant.refresh_token
    return body


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(username, secret) from ``Authorization: Basic``; None without the header; 401 if malformed."""
    if header is None:
        return None
    scheme, _, encoded = header.partition(" ")
    try:
        if scheme.lower() != "basic" or len(encoded) > 2 * MAX_SECRET:
            raise ValueError
        username, sep, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise RegistryError(ErrorCode.UNAUTHORIZED, message="malformed Authorization header") from None
    if not sep:
        raise RegistryError(ErrorCode.UNAUTHORIZED, message="malformed Authorization header")
    return username, secret


async def _form(request: Request) -> dict[str, str]:
    """A small application/x-www-form-urlencoded body; the first value of each field."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise BadTokenRequest("the token endpoint takes a form-encoded body")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadTokenRequest("request body too large")
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise BadTokenRequest("the form is not UTF-8") from None
    return {key: values[0] for key, values in fields.items()}
