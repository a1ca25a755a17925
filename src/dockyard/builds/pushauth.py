"""How a build's engine authenticates to this Dockyard: as the account behind the link, no more.

Under token auth the worker signs registry access tokens itself, with the server's key, valid
for as long as a build may take. No password or PAT is stored or created for builds.

    push   the one repository being built, with only the actions (push, pull) the linking
           account holds there; the engine gets it in X-Registry-Auth for the pushes and for
           pulling the repository's previous image (the only layer cache a build may use)
    pull   the base images' repositories on this registry, each with pull if the account may
           pull it and nothing otherwise; the engine gets it in X-Registry-Config and, since
           builds always pull, a build FROM a private image of another account fails even when
           the engine holds that image from an earlier build

Repository names are checked in their canonical form: ``nginx`` is ``library/nginx``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from dockyard.accounts.records import Principal
from dockyard.accounts.service import AccountService
from dockyard.auth.scopes import Scope
from dockyard.auth.tokens import TokenAuthority
from dockyard.builds.records import Job
from dockyard.builds.runtime import ANONYMOUS, RegistryGrant, StepFailed
from dockyard.names import canonical_or_none

MAX_TTL = 24 * 3600


def token_ttl(timeout_seconds: int) -> int:
    """A build's tokens outlive the build (its timeout, plus ten minutes), up to a day."""
    return min(MAX_TTL, timeout_seconds + 600)


class PushTokens:
    """``authority`` signs with the server's key and ``token_ttl``; None for an open registry."""

    def __init__(self, accounts: AccountService, authority: TokenAuthority | None) -> None:
        self.accounts = accounts
        self.authority = authority

    async def __call__(self, job: Job) -> RegistryGrant:
        if self.authority is None:  # an open registry: the engine pushes and pulls without credentials
            return ANONYMOUS
        repository = canonical_or_none(job.build.repository)
        account = job.created_by or job.build.repository.split("/", 1)[0]
        principal = await self.accounts.principal_for(account)
        if principal is None:
            raise StepFailed(f"the account {account!r} that linked {job.build.repository} no longer exists")
        if repository is None:
            raise StepFailed(f"{job.build.repository!r} is not a repository name")
        actions = await self.accounts.repository_actions(principal, repository) & {"push", "pull"}
        if "push" not in actions:
            raise StepFailed(f"{account} may not push to {job.build.repository}")
        push = self.authority.issue_access(principal, [Scope("repository", repository, frozenset(actions))])
        return RegistryGrant(push.token, partial(self._pull, principal))

    async def _pull(self, principal: Principal, repositories: Sequence[str]) -> str | None:
        assert self.authority is not None
        scopes = []
        for name in repositories:
            repository = canonical_or_none(name)
            if repository is not None:
                allowed = await self.accounts.repository_actions(principal, repository) & {"pull"}
                scopes.append(Scope("repository", repository, frozenset(allowed)))
        return self.authority.issue_access(principal, scopes).token
