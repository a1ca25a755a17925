"""Name rules of the accounts domain.

    docker_id  := [a-z0-9]{4,30}, not a reserved word      users and organisations share one space
    team       := [a-z0-9] [a-z0-9_-]{0,29}                 unique within an organisation
    repository := namespace "/" path                        dockyard.names' grammar, and:
    namespace  := docker_id | "library"                     "library" holds the official images
    existing   := any namespace_name "/" path              dockyard.names: also proxy namespaces

Only ASCII is accepted and nothing is normalised: ``Alice``, a Cyrillic a (U+0430) or the Kelvin
sign (U+212A, which ``str.lower`` turns into ``k``) are rejected, never mapped onto another name.
The one exception is logging in: ``authenticate`` lowercases a pure-ASCII name (``Alice`` logs in
as alice), and leaves any other name as it is, so it matches no account.
"""

from __future__ import annotations

import re

from dockyard import names
from dockyard.accounts.errors import InvalidName

DOCKER_ID_MIN = 4
DOCKER_ID_MAX = 30
_DOCKER_ID_RE = re.compile(r"[a-z0-9]+", re.ASCII)
_TEAM_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}", re.ASCII)

# Names that would be confusing or dangerous as a namespace: routes of the registry and the hub,
# well-known roles, and the official images' namespace.
RESERVED = frozenset(
    {
        "_catalog", "about", "account", "accounts", "admin", "administrator", "api", "auth", "billing",
        "blog", "docker", "dockerhub", "dockyard", "docs", "explore", "extensions", "help", "hub",
        "invites", "library", "login", "logout", "me", "namespaces", "new", "null", "official",
        "organizations", "orgs", "public", "r", "register", "registry", "repositories", "repository",
        "root", "search", "security", "settings", "signin", "signout", "signup", "static", "status",
        "support", "system", "team", "teams", "token", "tokens", "u", "undefined", "user", "users", "v1",
        "v2", "www",
    }
)  # fmt: skip


def validate_docker_id(name: str) -> str:
    """A user or organisation name, or InvalidName saying which rule it breaks."""
    if not isinstance(name, str) or not DOCKER_ID_MIN <= len(name) <= DOCKER_ID_MAX:
        raise InvalidName(f"{name!r} is not a valid name: use {DOCKER_ID_MIN} to {DOCKER_ID_MAX} characters")
    if not _DOCKER_ID_RE.fullmatch(name):
        raise InvalidName(f"{name!r} is not a valid name: use only lowercase letters a-z and digits 0-9")
    if name in RESERVED:
        raise InvalidName(f"{name!r} is reserved")
    return name


def validate_team_name(name: str) -> str:
    if not isinstance(name, str) or not _TEAM_RE.fullmatch(name):
        raise InvalidName(
            f"{name!r} is not a valid team name: 1 to 30 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


def canonical_repository(name: str) -> str:
    """``NS/NAME`` by ``dockyard.names``' grammar (a single component is an official image), in a
    namespace that can be a user's or an organisation's."""
    parsed = _parsed(name)
    if not parsed.official:
        try:
            validate_docker_id(parsed.namespace)
        except InvalidName:
            raise InvalidName(f"{name!r} is not in a valid namespace (a user or organisation name)") from None
    return str(parsed)


def existing_repository(name: str) -> str:
    """``NS/NAME`` canonical, in any namespace that can exist: a user's or an organisation's, library,
    or a proxy namespace (``hub``, ``quay-io``: dockyard.names' namespace grammar). For looking a
    repository up (one that does not exist is not found); creating one takes canonical_repository."""
    parsed = _parsed(name)
    if not names.valid_namespace(parsed.namespace):
        raise InvalidName(f"{name!r} is not in a valid namespace")
    return str(parsed)


def _parsed(name: str) -> names.RepositoryName:
    """By ``dockyard.names``' grammar; its error as the accounts' InvalidName."""
    try:
        return names.RepositoryName.parse(name)
    except names.InvalidName as invalid:
        raise InvalidName(str(invalid)) from None


namespace_of = names.namespace_of
