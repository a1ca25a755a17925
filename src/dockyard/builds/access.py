"""Who may do what with a repository's builds, the same on every door (build API, pages, CLI).

    read     the history, a build, its log, the badge     pull on the repository
    operate  build now, cancel, retry                      push
    admin    link, relink, unlink, change the rules        the repository's admin (the policy's
                                                           "delete"; a personal access token needs
                                                           repo:admin, repo:write is refused)

Repository names are canonicalised once, here, by the accounts domain's one canonicaliser:
``nginx`` *is* ``library/nginx``, never a repository of a user called ``nginx``. ``library/``
holds the official images; only site administrators link, build or push there, whatever a team
or a token says.
"""

from __future__ import annotations

from typing import Literal

from dockyard.accounts.errors import InvalidName
from dockyard.accounts.names import canonical_repository, namespace_of
from dockyard.accounts.records import Principal
from dockyard.builds.errors import Forbidden, InvalidRequest, NotFound, Unauthorized
from dockyard.names import OFFICIAL_NAMESPACE

Need = Literal["read", "operate", "admin"]
POLICY_ACTION: dict[Need, str] = {"read": "pull", "operate": "push", "admin": "delete"}
REFUSED: dict[Need, str] = {
    "read": "",
    "operate": "only those who may push to {name} can start or stop its builds",
    "admin": (
        "only administrators of {name} can link, relink or unlink it or change its build rules "
        "(a personal access token needs the repo:admin scope)"
    ),
}


def repository_name(raw: str) -> str:
    """The canonical name of a repository given in a path, a form or on the command line."""
    try:
        return canonical_repository(raw)
    except InvalidName as exc:
        raise InvalidRequest(exc.message) from None


def decide(principal: Principal | None, name: str, actions: frozenset[str], need: Need) -> None:
    """Raise unless ``actions`` (the caller's on canonical ``name``) cover ``need``.

    Someone who cannot even read the repository learns nothing of it (404, or 401 to an anonymous
    caller who asked to change it); someone who can read it is told why not (403)."""
    official = need != "read" and namespace_of(name) == OFFICIAL_NAMESPACE
    if official and principal is None:
        raise Unauthorized("authentication required")
    if official and principal is not None and not principal.is_admin:
        raise Forbidden(f"{name} is an official image: only site administrators build it")
    if POLICY_ACTION[need] in actions:
        return
    if "pull" in actions and principal is not None:
        raise Forbidden(REFUSED[need].format(name=name))
    if principal is None and need != "read":
        raise Unauthorized("authentication required")
    raise NotFound(f"no builds for {name}")
