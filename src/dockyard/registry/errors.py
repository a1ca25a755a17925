"""Registry errors as one table.

Every failure a handler can produce is a :class:`RegistryError` carrying one
:class:`ErrorCode`. A single exception handler (``registry.app``) renders it
as the spec's JSON body ``{"errors": [{"code", "message", "detail"}]}``.

The codes are the OCI Distribution Spec v1.1 table, plus the Docker V2 codes
that docker itself understands (``TAG_INVALID``, ``UNAVAILABLE``...).
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.Enum):
    # (message, HTTP status)
    BLOB_UNKNOWN = ("blob unknown to registry", 404)
    BLOB_UPLOAD_INVALID = ("blob upload invalid", 400)
    BLOB_UPLOAD_UNKNOWN = ("blob upload unknown to registry", 404)
    DIGEST_INVALID = ("provided digest did not match uploaded content", 400)
    MANIFEST_BLOB_UNKNOWN = ("manifest references a manifest or blob unknown to registry", 400)
    MANIFEST_INVALID = ("manifest invalid", 400)
    MANIFEST_UNKNOWN = ("manifest unknown to registry", 404)
    NAME_INVALID = ("invalid repository name", 400)
    NAME_UNKNOWN = ("repository name not known to registry", 404)
    SIZE_INVALID = ("provided length did not match content length", 400)
    UNAUTHORIZED = ("authentication required", 401)
    DENIED = ("requested access to the resource is denied", 403)
    UNSUPPORTED = ("the operation is unsupported", 405)
    TOOMANYREQUESTS = ("too many requests", 429)
    # Docker V2 additions
    TAG_INVALID = ("manifest tag did not match URI", 400)
    RANGE_INVALID = ("invalid content range", 416)
    MANIFEST_TOO_BIG = ("manifest too big", 413)
    PAGINATION_NUMBER_INVALID = ("invalid number of results requested", 400)
    UNAVAILABLE = ("service unavailable", 503)

    @property
    def message(self) -> str:
        return self.value[0]

    @property
    def status(self) -> int:
        return self.value[1]

    @property
    def spec_code(self) -> str:
        # MANIFEST_TOO_BIG is our name; on the wire the spec's closest code is used.
        return "MANIFEST_INVALID" if self is ErrorCode.MANIFEST_TOO_BIG else self.name


class RegistryError(Exception):
    """A protocol error: code, optional human message and structured detail."""

    def __init__(
        self,
        code: ErrorCode,
        detail: Any = None,
        *,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or code.message)
        self.code = code
        self.detail = detail
        self.message = message or code.message
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return self.code.status

    def body(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"code": self.code.spec_code, "message": self.message}
        entry["detail"] = self.detail if self.detail is not None else {}
        return {"errors": [entry]}
