"""The access policy: which of pull, push and delete a caller has on one repository.

Pure functions over facts the service loads (``RepositoryFacts``), so the rules read as a table
and are tested as one. In order:

    site administrator                          pull push delete   (anywhere, even a new namespace)
    library/*                                   pull when public and existing; administrators only write
    own namespace                               pull push delete   (existing or not)
    organisation, member of "owners"            pull push delete   (existing or not)
    organisation, other team with a permission  read: pull  write: pull push  admin: pull push delete
    public repository that exists               pull               (anyone, anonymous too)
    anything else                               nothing: private and missing repositories look alike

A personal access token then narrows the result to its highest scope:
repo:admin -> pull push delete, repo:write -> pull push, repo:read -> pull,
repo:public_read -> pull on public repositories only.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.accounts.records import ALL_ACTIONS, Principal

OWNERS_TEAM = "owners"
NONE: frozenset[str] = frozenset()
PULL: frozenset[str] = frozenset({"pull"})
PULL_PUSH: frozenset[str] = frozenset({"pull", "push"})

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

    @property
    def is_public(self) -> bool:
        return self.exists and not self.is_private


def granted(principal: Principal | None, facts: RepositoryFacts) -> frozenset[str]:
    """Actions the account holds, before any token narrowing."""
    if principal is not None and principal.is_admin:
        return ALL_ACTIONS
    actions: set[str] = set()
    if facts.is_public:
        actions |= PULL
    if principal is None:
        return frozenset(actions)
    if facts.namespace_is_caller or facts.org_owner:
        return ALL_ACTIONS
    if facts.exists:
        for permission in facts.team_permissions:
            actions |= PERMISSION_ACTIONS.get(permission, NONE)
    return frozenset(actions)


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


def repository_actions(principal: Principal | None, facts: RepositoryFacts) -> frozenset[str]:
    actions = granted(principal, facts)
    if principal is not None:
        actions &= token_ceiling(principal.token_scopes, facts)
    return actions
