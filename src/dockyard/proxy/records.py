"""The proxy's typed records and errors.

ProxyError              a proxy command that cannot be done; the message is safe to show
 └── ProxyNotFound
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from dockyard import names
from dockyard.registry import quotas

# A namespace by dockyard.names' namespace grammar (the hub then finds its repositories too).
MAX_NAMESPACE = names.MAX_NAMESPACE_LENGTH
RESERVED = frozenset({"library", "v2", "_"})
DEFAULT_TTL_SECONDS = 300
MIRROR_NAMESPACE = "mirror"  # where the instance mirror caches, unless another name is given


class ProxyError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProxyNotFound(ProxyError):
    pass


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    id: int
    namespace: str
    upstream_url: str
    ttl_seconds: int
    is_private: bool
    has_credentials: bool
    is_mirror: bool
    created_at: datetime
    hits: int = 0
    misses: int = 0
    last_checked_at: datetime | None = None
    size_limit_bytes: int | None = None  # cached blobs beyond this evict the least recently pulled
    usage_bytes: int | None = None  # the cached blobs' bytes, when asked for (ProxyService.list)


@dataclass(frozen=True, slots=True)
class UpstreamManifest:
    digest: str
    media_type: str
    content: bytes


def check_namespace(name: str) -> str:
    if not names.valid_namespace(name) or name in RESERVED:
        raise ProxyError(
            f"{name!r} is not a proxy namespace name: lowercase letters and digits, separated by "
            f"single '.', '_' or '-', at most {MAX_NAMESPACE} characters, not {', '.join(sorted(RESERVED))}"
        )
    return name


def check_upstream_url(url: str) -> str:
    """http(s)://host[:port][/prefix], without credentials, query or fragment; no trailing slash."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ProxyError(f"{url!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProxyError("the upstream URL must start with http:// or https:// and name a host")
    if parts.username is not None or parts.password is not None:
        raise ProxyError("give upstream credentials with --username and --password-stdin, not in the URL")
    if parts.query or parts.fragment:
        raise ProxyError("the upstream URL takes no query or fragment")
    del port
    return url.strip().rstrip("/")


def parse_size(text: str) -> int | None:
    """``10GB``, ``512MiB``, ``1.5 GB``, ``1000`` (bytes), as quotas read them; ``none`` for no limit."""
    if text.strip().lower() == "none":
        return None
    try:
        return quotas.parse_size(text)
    except ValueError as exc:
        raise ProxyError(str(exc)) from None
