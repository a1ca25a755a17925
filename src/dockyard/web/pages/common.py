"""Helpers the page handlers share: names from paths, safe redirects, visibility fields, cursors."""

from __future__ import annotations

from dockyard.hub.errors import InvalidInput, PermissionDenied
from dockyard.web.context import WebRequest
from dockyard.web.templating import repository_url

__all__ = ["cursor", "private_choice", "repository_name", "repository_url", "require_viewer", "safe_next"]


def repository_name(web: WebRequest) -> str:
    """The repository a /r/<ns>/<repo>/... or /_/<repo>/... path names."""
    name = web.path("name")
    return f"library/{name}" if web.request.url.path.startswith("/_/") else name


def cursor(web: WebRequest) -> str | None:
    """The ``cursor`` of a listing's Next/Previous link (keyset pages); None for a page number alone."""
    return web.param("cursor") or None


def safe_next(target: str, default: str = "/") -> str:
    """A local path to go to after logging in: never another site."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and "\n" not in target:
        return target
    return default


def private_choice(value: str) -> bool | None:
    if value in ("private", "public"):
        return value == "private"
    if value == "":
        return None
    raise InvalidInput("visibility is public or private")


def require_viewer(web: WebRequest) -> None:
    if web.viewer is None:
        raise PermissionDenied("log in first")
