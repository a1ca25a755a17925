"""Numbers and credentials the build API and the build pages read from a request, checked once.

Every value a client sends is hostile: a bad one is a 400 naming the parameter (never a 500 from
deep inside the database, never "no limit"). Build ids and log positions are SQL integers, so
anything past 2**63 - 1 is refused here rather than overflowing a driver.
"""

from __future__ import annotations

import base64
import binascii

from dockyard.builds.errors import InvalidRequest

MAX_ID = 2**63 - 1
MAX_PAGE = 500
DEFAULT_PAGE = 50
MAX_BASIC_HEADER = 8192


def bounded_int(value: str | None, name: str, *, low: int, high: int, default: int) -> int:
    """``value`` as an integer in [low, high]; ``default`` when absent or empty."""
    if value is None or value == "":
        return default
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or not low <= int(text) <= high:
        raise InvalidRequest(f"{name} must be a whole number from {low} to {high}, not {value[:40]!r}")
    return int(text)


def page_size(value: str | None) -> int:
    return bounded_int(value, "limit", low=1, high=MAX_PAGE, default=DEFAULT_PAGE)


def log_position(after: str | None, last_event_id: str | None = None) -> int:
    """Where a log read starts: the SSE ``Last-Event-ID`` header wins over ``?after=``."""
    if last_event_id:
        return bounded_int(last_event_id, "Last-Event-ID", low=0, high=MAX_ID, default=0)
    return bounded_int(after, "after", low=0, high=MAX_ID, default=0)


def record_id(value: object, name: str = "the build id") -> int:
    """A build or link id from a path (the router's ``int`` convertor takes digits of any length)."""
    if isinstance(value, int) and 0 <= value <= MAX_ID:
        return value
    return bounded_int(str(value)[:40], name, low=0, high=MAX_ID, default=0)


def basic_credentials(header: str) -> tuple[str, str]:
    """(username, secret) of an ``Authorization: Basic`` header; 400 when it is not one."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise InvalidRequest("the build API takes HTTP Basic credentials (a password or an access token)")
    encoded = encoded.strip()
    if not encoded.isascii() or len(encoded) > MAX_BASIC_HEADER:
        raise InvalidRequest("malformed Authorization header: Basic credentials are base64 (ASCII)")
    try:
        username, sep, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest("malformed Authorization header: not base64 of UTF-8 user:password") from None
    if not sep or not username:
        raise InvalidRequest("malformed Authorization header: Basic credentials are user:password")
    return username, secret
