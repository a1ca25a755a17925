"""Git source URLs a build may fetch: https, http, git and ssh, on a named host, nothing local.

    https://host[:port]/path      http://host[:port]/path      git://host[:port]/path
    ssh://[user@]host[:port]/path                               [user@]host:path  (scp-like ssh)

Anything else is refused: ``file://``, local paths (a build must not read the server's disk),
``ext::`` and other transports that run commands. Hosts are DNS names or IP literals, users
plain words, and neither may start with ``-`` (git would take it for an option). A username
and password inside an http(s) URL are split off (``credentials``) so they never reach git's
command line or a log line; they go in a header scoped to the source's origin instead.

``origin`` (scheme, host, port) is what submodules must share with their source.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

SCHEMES = {"https": 443, "http": 80, "git": 9418, "ssh": 22}
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")
IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
IPV6 = re.compile(r"^[0-9A-Fa-f:.]+$")
USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._~+-]{0,63}$")
SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:\s]+)@)?(?P<host>[^@/:\s\[\]]+|\[[0-9A-Fa-f:.]+\]):(?P<path>.*)$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SourceError(ValueError):
    """Not a source URL this server fetches; the message says why."""


@dataclass(frozen=True, slots=True)
class Source:
    scheme: str
    host: str  # lower case; an IPv6 literal without brackets
    port: int | None  # None: the scheme's default
    path: str
    user: str = ""  # the ssh login, never a secret
    scp_like: bool = False

    @property
    def effective_port(self) -> int:
        return self.port or SCHEMES[self.scheme]

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.effective_port)

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.port else host

    @property
    def url(self) -> str:
        """The URL as git gets it (and as logs show it): no password, ever."""
        if self.scp_like:
            return f"{self.user + '@' if self.user else ''}{self.netloc}:{self.path}"
        user = f"{self.user}@" if self.user else ""
        return f"{self.scheme}://{user}{self.netloc}{self.path}"

    @property
    def origin_url(self) -> str:
        """``scheme://host[:port]/``, the key of git's per-URL settings (``http.<url>.*``)."""
        return f"{self.scheme}://{self.netloc}/"


@dataclass(frozen=True, slots=True)
class ParsedSource:
    source: Source
    credentials: dict[str, str]  # username/password found inside an http(s) URL


def parse(url: str) -> ParsedSource:
    """The source behind ``url``, or SourceError saying what is wrong with it."""
    url = url.strip()
    if not url:
        raise SourceError("the source URL is empty")
    if CONTROL.search(url) or " " in url:
        raise SourceError("a source URL has no spaces or control characters")
    scheme, sep, _ = url.partition("://")
    if sep:
        return _parse_url(url, scheme.lower())
    if url.startswith(("/", ".", "~")) or url.lower().startswith("file:"):
        raise SourceError("local paths are not build sources: serve the repository over git, ssh or https")
    found = SCP_LIKE.match(url)
    if found is None or found.group("path").startswith(":"):  # ext::, fd:: and other helpers
        raise SourceError(f"not a git URL this server can fetch: {url!r} (use https, ssh or git)")
    user = found.group("user") or ""
    _check_user(user)
    host = _check_host(found.group("host").strip("[]"))
    path = found.group("path")
    if not path or path.startswith("-"):
        raise SourceError(f"no repository path in {url!r}")
    return ParsedSource(Source("ssh", host, None, path, user, scp_like=True), {})


def _parse_url(url: str, scheme: str) -> ParsedSource:
    if scheme not in SCHEMES:
        raise SourceError(
            f"{scheme}:// sources are not fetched here: use https, ssh or git"
            + (" (local paths are not build sources)" if scheme == "file" else "")
        )
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise SourceError(f"not a valid URL: {exc}") from None
    if not parts.hostname:
        raise SourceError(f"no host in {url!r}")
    host = _check_host(parts.hostname)
    if port == 0:
        raise SourceError("port 0 is not a port")
    path = parts.path or "/"
    if parts.query or parts.fragment:
        raise SourceError("a git source URL has no query or fragment")
    username = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    credentials: dict[str, str] = {}
    user = ""
    if scheme in ("http", "https"):
        if username or password:
            credentials = {"username": username, "password": password}
    elif scheme == "ssh":
        _check_user(username)
        user = username
    elif username or password:
        raise SourceError("git:// URLs carry no credentials")
    return ParsedSource(Source(scheme, host, port, path, user), credentials)


def _check_host(host: str) -> str:
    host = host.lower()
    if host.startswith("-") or not (HOSTNAME.match(host) or IPV4.match(host) or _ipv6(host)):
        raise SourceError(f"{host!r} is not a host name")
    return host.rstrip(".")


def _ipv6(host: str) -> bool:
    return ":" in host and bool(IPV6.match(host))


def _check_user(user: str) -> None:
    if user and not USER.match(user):
        raise SourceError(f"{user!r} is not a user name for ssh")


def same_origin(parent: Source, child: Source) -> bool:
    """Whether ``child`` (a submodule) is on the parent's host, port and protocol."""
    return parent.origin == child.origin
