"""The pure policy against every combination of its inputs, checked by an independent statement of
the rules: permissions as levels (nothing < pull < pull+push < pull+push+delete), where a caller
holds the highest level any of their grants gives, and a token caps it at its highest scope.

policy.py computes unions of action sets row by row; this computes maxima of levels. The two
agree only if every row gives what the docstring's table says and nothing else does.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from dockyard.accounts import policy
from dockyard.accounts.policy import RepositoryFacts
from dockyard.accounts.records import Principal

LEVELS = [
    frozenset(),
    frozenset({"pull"}),
    frozenset({"pull", "push"}),
    frozenset({"pull", "push", "delete"}),
]
PERMISSION_LEVEL = {"read": 1, "write": 2, "admin": 3}
SCOPE_LEVEL = {"repo:public_read": 1, "repo:read": 1, "repo:write": 2, "repo:admin": 3}
SCOPES = sorted(SCOPE_LEVEL)
# None (a password login) and every non-empty set of scopes.
SCOPE_SETS: list[frozenset[str] | None] = [
    None,
    *(frozenset(c) for n in range(1, len(SCOPES) + 1) for c in itertools.combinations(SCOPES, n)),
]
PERMISSION_SETS = [frozenset(c) for n in range(4) for c in itertools.combinations(PERMISSION_LEVEL, n)]


def all_facts() -> Iterator[RepositoryFacts]:
    for exists, private, own, owner, teams, collaborator in itertools.product(
        (False, True), (False, True), (False, True), (False, True), PERMISSION_SETS, (None, *PERMISSION_LEVEL)
    ):
        yield RepositoryFacts(exists, private, own, owner, teams, collaborator)


def callers() -> Iterator[tuple[str, Principal | None]]:
    yield "anonymous", None
    for admin, scopes in itertools.product((False, True), SCOPE_SETS):
        token = None if scopes is None else 7
        yield f"admin={admin} scopes={sorted(scopes or [])}", Principal("x", 1, admin, token, scopes)


def expected(principal: Principal | None, facts: RepositoryFacts) -> frozenset[str]:
    public = facts.exists and not facts.is_private
    if principal is None:
        return LEVELS[1] if public else LEVELS[0]
    level = 1 if public else 0
    if principal.is_admin or facts.namespace_is_caller or facts.org_owner:
        level = 3
    if facts.exists:
        held = set(facts.team_permissions) | ({facts.collaborator} if facts.collaborator else set())
        level = max([level, *(PERMISSION_LEVEL[p] for p in held)])
    if principal.token_scopes is not None:
        usable = [s for s in principal.token_scopes if s != "repo:public_read" or public]
        level = min(level, max((SCOPE_LEVEL[s] for s in usable), default=0))
    return LEVELS[level]


FACTS = list(all_facts())


@pytest.mark.parametrize(("label", "principal"), list(callers()), ids=[label for label, _ in callers()])
def test_every_combination_of_facts(label: str, principal: Principal | None) -> None:
    assert len(FACTS) == 2 * 2 * 2 * 2 * 8 * 4
    for facts in FACTS:
        assert policy.repository_actions(principal, facts) == expected(principal, facts), (label, facts)


def test_the_table_names_its_rows() -> None:
    """The docstring's table and GRANTS list the same rows, in the same order."""
    rows = [name for name, _ in policy.GRANTS]
    assert rows == [
        "site administrator",
        "public repository",
        "own namespace",
        "organisation owner",
        "team permission",
        "collaborator",
    ]
    doc = policy.__doc__ or ""
    positions = [doc.index(f"\n    {row}  ") for row in rows]
    assert positions == sorted(positions)


# -- organisations -------------------------------------------------------------------------------------

# role -> (without a token, as a site administrator without a token)
ORG_TABLE = {
    "owner": ({"view", "manage", "leave"}, {"view", "manage", "leave"}),
    "member": ({"view", "leave"}, {"view", "manage", "leave"}),
    None: (set(), {"view", "manage"}),
}


@pytest.mark.parametrize("role", ["owner", "member", None])
@pytest.mark.parametrize("admin", [False, True])
@pytest.mark.parametrize("scopes", SCOPE_SETS, ids=[str(sorted(s)) if s else "password" for s in SCOPE_SETS])
def test_org_actions(role: str | None, admin: bool, scopes: frozenset[str] | None) -> None:
    principal = Principal("x", 1, admin, None if scopes is None else 7, scopes)
    want = set(ORG_TABLE[role][admin])
    if scopes is not None and "repo:admin" not in scopes:
        # Tokens below repo:admin only look, and repo:public_read not even that.
        want &= {"view"} if scopes & {"repo:read", "repo:write"} else set()
    assert policy.org_actions(principal, role) == want
    assert policy.org_actions(None, role) == frozenset()
