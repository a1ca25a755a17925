"""The access policy: what a caller may do on one repository, and in one organisation.

Pure functions over facts the service loads (``RepositoryFacts``, an organisation role), so the
rules read as tables and are tested as tables: tests/accounts/test_policy_exhaustive.py runs every
combination of facts, caller and token scopes against an independent statement of the rules.

Repositories: the caller holds the union of what every row that applies gives (``GRANTS``).

    row                 applies when                                      gives
    site administrator  the caller is one                                 pull push delete, anywhere
    public repository   it exists and is public                           pull (anonymous callers too)
    own namespace       it is in the caller's user namespace              pull push delete, existing or not
    organisation owner  its organisation's owners team holds the caller   pull push delete, existing or not
    team permission     a team of the caller holds one on it (it exists)  read: pull  write: pull push
                                                                          admin: pull push delete
    collaborator        the caller is one on it (it exists)               the same, by their permission


Nothing else gives anything, so a private repository and a missing one look alike. library/*
belongs to nobody: anyone pulls its public repositories, only administrators write. Being a
member of an organisation (its "member" role) gives nothing on its repositories by itself.

Pull-through (dockyard/proxy/), after the rows (``pulled_through``): a proxy namespace is
read-only, so whatever the rows give is narrowed to pull, for administrators too; its repositories
count as existing (the upstream has them, or answers 404) and as public unless the proxy is
private, when the members of its organisation pull as well. With an instance mirror, a repository
that does not exist here may be pulled by anyone (the mirror answers it).

A personal access token then narrows the result to its highest scope: repo:admin -> pull push
delete, repo:write -> pull push, repo:read -> pull, repo:public_read -> pull on public
repositories only.

Organisations: what a caller may do in one, by their role there (``ROLE_ACTIONS``).

    role                  view (members, teams)   manage (members, roles, teams, settings)   leave
    owner                 yes                     yes                                          yes
    member                yes                     -                                            yes
    no role               -                       -                                            -
    site administrator    yes                     yes                                          by their role

A token narrows these as well: managing and leaving need repo:admin, viewing repo:read or more.
The service keeps the one invariant no role can break: an organisation always has an owner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dockyard.accounts.records import ALL_ACTIONS, Principal

OWNERS_TEAM = "owners"
NONE: frozenset[str] = frozenset()
PULL: frozenset[str] = frozenset({"pull"})
PULL_PUSH: frozenset[str] = frozenset({"pull", "push"})

PERMISSIONS = ("read", "write", "admin")
PERMISSION_ACTIONS: dict[str, frozenset[str]] = {"read": PULL, "write": PULL_PUSH, "admin": ALL_ACTIONS}
# Highest scope first: a token's scopes imply everything below the highest it holds.
SCOPE_ACTIONS: dict[str, frozenset[str]] = {
    "repo:admin": ALL_ACTIONS,
    "repo:write": PULL_PUSH,
    "repo:read": PULL,
    "repo:public_read": PULL,  # and only on public repositories
}


@dataclass(frozen=True, slots=True)
class RepositoryFacts:
    """What the policy needs to know about one repository and the caller's place in its namespace."""

    exists: bool
    is_private: bool
    namespace_is_caller: bool = False  # the caller's own user namespace
    org_owner: bool = False  # the namespace is an organisation whose owners team holds the caller
    team_permissions: frozenset[str] = NONE  # permissions the caller's teams hold on the repository
    collaborator: str | None = None  # the caller's permission as a collaborator on the repository
    proxy: bool = False  # the namespace is a proxy namespace: read-only
    proxy_member: bool = False  # the caller is a member of the proxy namespace's organisation
    mirrored: bool = False  # missing here, and the instance mirror answers pulls of it

    @property
    def is_public(self) -> bool:
        return self.exists and not self.is_private


Grant = Callable[[Principal | None, RepositoryFacts], frozenset[str]]


def held(permissions: Iterable[str | None]) -> frozenset[str]:
    """The actions read, write and admin permissions give together."""
    actions: frozenset[str] = NONE
    for permission in permissions:
        actions |= PERMISSION_ACTIONS.get(permission or "", NONE)
    return actions


GRANTS: tuple[tuple[str, Grant], ...] = (
    ("site administrator", lambda p, f: ALL_ACTIONS if p is not None and p.is_admin else NONE),
    ("public repository", lambda p, f: PULL if f.is_public else NONE),
    ("own namespace", lambda p, f: ALL_ACTIONS if p is not None and f.namespace_is_caller else NONE),
    ("organisation owner", lambda p, f: ALL_ACTIONS if p is not None and f.org_owner else NONE),
    ("team permission", lambda p, f: held(f.team_permissions) if p is not None and f.exists else NONE),
    ("collaborator", lambda p, f: held([f.collaborator]) if p is not None and f.exists else NONE),
)


def granted(principal: Principal | None, facts: RepositoryFacts) -> frozenset[str]:
    """Actions the account holds, before any token narrowing: the union of the rows of GRANTS."""
    actions: frozenset[str] = NONE
    for _row, grant in GRANTS:
        actions |= grant(principal, facts)
    return actions


def token_ceiling(scopes: frozenset[str] | None, facts: RepositoryFacts) -> frozenset[str]:
    """The most a token with these scopes may do on this repository (everything for passwords)."""
    if scopes is None:
        return ALL_ACTIONS
    ceiling: set[str] = set()
    for scope in scopes:
        if scope == "repo:public_read" and not facts.is_public:
            continue
        ceiling |= SCOPE_ACTIONS.get(scope, NONE)
    return frozenset(ceiling)


def pulled_through(
    principal: Principal | None, facts: RepositoryFacts, actions: frozenset[str]
) -> frozenset[str]:
    """The rows' actions as proxy namespaces and the instance mirror change them."""
    if facts.proxy:
        member = PULL if principal is not None and facts.proxy_member else NONE
        return (actions | member) & PULL
    if facts.mirrored and not facts.exists:
        return actions | PULL
    return actions


def repository_actions(principal: Principal | None, facts: RepositoryFacts) -> frozenset[str]:
    actions = pulled_through(principal, facts, granted(principal, facts))
    if principal is not None:
        actions &= token_ceiling(principal.token_scopes, facts)
    return actions


# -- organisations ------------------------------------------------------------------------------------

VIEW, MANAGE, LEAVE = "view", "manage", "leave"
ORG_ACTIONS: frozenset[str] = frozenset({VIEW, MANAGE, LEAVE})
ROLES = ("owner", "member")
ROLE_ACTIONS: dict[str | None, frozenset[str]] = {
    "owner": ORG_ACTIONS,
    "member": frozenset({VIEW, LEAVE}),
    None: NONE,
}


def org_actions(principal: Principal | None, role: str | None) -> frozenset[str]:
    """What the caller may do in an organisation where they hold ``role`` (None: not a member)."""
    if principal is None:
        return NONE
    actions = ROLE_ACTIONS.get(role, NONE)
    if principal.is_admin:
        actions |= {VIEW, MANAGE}
    scopes = principal.token_scopes
    if scopes is not None and "repo:admin" not in scopes:
        actions -= {MANAGE, LEAVE}
        if not scopes & {"repo:write", "repo:read"}:
            actions -= {VIEW}
    return actions
