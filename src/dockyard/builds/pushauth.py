"""Credentials for the worker's ``docker push`` into this Dockyard.

Under token auth the worker signs a registry access token itself, with the server's key, for
the one repository being built and only the actions (push, pull) the account behind the link
holds there, valid for as long as a build may take. It reaches docker as a ``registrytoken``
in a throw-away DOCKER_CONFIG: no password or PAT is stored or created for builds.
"""

from __future__ import annotations

from dockyard.accounts.service import AccountService
from dockyard.auth import keys
from dockyard.auth.scopes import Scope
from dockyard.auth.tokens import TokenAuthority
from dockyard.builds.config import BuildSettings
from dockyard.builds.records import Job
from dockyard.builds.runner import StepFailed
from dockyard.config import Settings

MAX_TTL = 24 * 3600


class PushTokens:
    def __init__(self, settings: Settings, builds: BuildSettings, accounts: AccountService) -> None:
        self.accounts = accounts
        self.authority: TokenAuthority | None = None
        if settings.auth == "token":
            self.authority = TokenAuthority(
                keys.load_or_create(settings.data_dir),
                issuer=settings.token_issuer,
                service=settings.token_service,
                ttl=min(MAX_TTL, builds.timeout_seconds + 600),
                refresh_ttl=settings.refresh_token_ttl_seconds,
                leeway=settings.token_leeway_seconds,
            )

    async def __call__(self, job: Job) -> str | None:
        if self.authority is None:  # an open registry: docker pushes without credentials
            return None
        repository = job.build.repository
        account = job.created_by or repository.split("/", 1)[0]
        principal = await self.accounts.principal_for(account)
        if principal is None:
            raise StepFailed(f"the account {account!r} that linked {repository} no longer exists")
        actions = await self.accounts.repository_actions(principal, repository) & {"push", "pull"}
        if "push" not in actions:
            raise StepFailed(f"{account} may not push to {repository}")
        scope = Scope("repository", repository, frozenset(actions))
        return self.authority.issue_access(principal, [scope]).token
