"""Errors of the hub API, written as Docker Hub writes them today, ``{"message", "errinfo"}``, with
the older ``detail`` beside them (the same text) for the clients and scripts that read that.

ApiError                        status  message
├── BadRequest                  400     the request breaks a rule (the message says which)
├── Unauthorized                401     no, a malformed or an expired token; wrong credentials
├── Forbidden                   403     authenticated, but not allowed (the resource is visible)
├── NotFound                    404     missing, or private and not visible to the caller
├── Conflict                    409     the name is taken, or the change would leave no owner
└── TooManyRequests             429     login throttled, a creation limit reached (Retry-After)

``errinfo`` names what the message is about: each bad field for invalid input, else the path's
parameters (``{"namespace": "alice", "repository": "app"}`` for a repository not found), as
Docker Hub does. Service errors map through one table (``ACCOUNT_ERRORS``); request validation
errors become 400; the builds domain's errors (``BuildError``) carry their own status. Handlers
raise, never build error responses themselves.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from dockyard.accounts import errors as account_errors
from dockyard.builds.errors import BuildError


class ApiError(Exception):
    status: ClassVar[int] = 500
    default: ClassVar[str] = "internal error"

    def __init__(self, detail: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.default)
        self.detail = detail or self.default
        self.headers = headers or {}


class BadRequest(ApiError):
    status = 400
    default = "bad request"


class Unauthorized(ApiError):
    status = 401
    default = "authentication required"


class Forbidden(ApiError):
    status = 403
    default = "you do not have permission to do that"


class NotFound(ApiError):
    status = 404
    default = "object not found"


class Conflict(ApiError):
    status = 409
    default = "already exists"


class TooManyRequests(ApiError):
    status = 429
    default = "too many requests"


BAD_CREDENTIALS = "Incorrect authentication credentials"

ACCOUNT_ERRORS: dict[type[account_errors.AccountError], type[ApiError]] = {
    account_errors.InvalidInput: BadRequest,
    account_errors.AlreadyExists: Conflict,
    account_errors.NotFound: NotFound,
    account_errors.Conflict: Conflict,
    account_errors.RateLimited: TooManyRequests,
    account_errors.QuotaExceeded: Forbidden,
    account_errors.PermissionDenied: Forbidden,
}


class ErrorBody(BaseModel):
    """Every error: a message for people, what it is about, and the message again as ``detail``."""

    message: str
    errinfo: dict[str, str]
    detail: str


def _json(
    status: int, message: str, headers: dict[str, str] | None = None, errinfo: dict[str, str] | None = None
) -> JSONResponse:
    body = {"message": message, "errinfo": errinfo or {}, "detail": message}
    return JSONResponse(body, status_code=status, headers=headers)


def _about(request: Request) -> dict[str, str]:
    return {name: str(value) for name, value in request.path_params.items()}


async def api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _json(exc.status, exc.detail, exc.headers, _about(request))


async def account_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, account_errors.AccountError)
    headers = None
    if isinstance(exc, account_errors.RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    for kind in type(exc).__mro__:
        mapped = ACCOUNT_ERRORS.get(kind)
        if mapped is not None:
            return _json(mapped.status, exc.message, headers, _about(request))
    return _json(500, "internal error")


async def build_error(request: Request, exc: Exception) -> JSONResponse:
    """The builds domain's errors carry their status (builds/errors.py) and headers (Retry-After)."""
    assert isinstance(exc, BuildError)
    return _json(exc.status, exc.message, exc.headers, _about(request))


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields: dict[str, str] = {}
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
        fields.setdefault(".".join(location) or "body", str(error.get("msg", "invalid value")))
    summary = "; ".join(f"{field}: {message}" for field, message in fields.items())
    return _json(400, f"invalid request: {summary}", errinfo=fields)


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    """Routing errors (404 unknown path, 405 wrong method) in the same shape."""
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "error"
    if exc.status_code == 404:
        detail = "Not found."
    return _json(exc.status_code, detail, dict(exc.headers or {}))


def install_handlers(api: FastAPI) -> None:
    api.add_exception_handler(ApiError, api_error)
    api.add_exception_handler(account_errors.AccountError, account_error)
    api.add_exception_handler(BuildError, build_error)
    api.add_exception_handler(RequestValidationError, validation_error)
    api.add_exception_handler(StarletteHTTPException, http_error)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the error statuses an operation can answer."""
    described = {
        400: "Bad input",
        401: "Not authenticated",
        403: "Not allowed",
        404: "Not found, or not visible to the caller",
        409: "Already exists",
        429: "Too many failed logins, sign-ups or new repositories (Retry-After)",
    }
    return {status: {"model": ErrorBody, "description": described[status]} for status in statuses}
