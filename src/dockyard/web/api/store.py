"""The few reads and writes the API needs beyond HubService, each asked of the package that owns
the table (no SQL here):

    repository_facts   the registry's read model: per repository its id, the media types of its
                       manifests (Docker Hub's ``media_types``), the bytes it links (``storage_size``)
    user_ids           the accounts domain: usernames to user ids (a tag's ``creator`` and
                       ``last_updater``)
    rename_token       the accounts domain: a personal access token's label (Docker Hub's PATCH)
"""

from __future__ import annotations

from collections.abc import Iterable

from dockyard.accounts.service import AccountService
from dockyard.registry.records import RepositoryFacts
from dockyard.registry.store import MetadataStore

__all__ = ["ApiStore", "RepositoryFacts"]


class ApiStore:
    def __init__(self, registry: MetadataStore, accounts: AccountService) -> None:
        self.registry = registry
        self.accounts = accounts

    async def repository_facts(self, names: Iterable[str]) -> dict[str, RepositoryFacts]:
        return await self.registry.repository_facts(names)

    async def user_ids(self, usernames: Iterable[str | None]) -> dict[str, int]:
        return await self.accounts.user_ids(usernames)

    async def rename_token(self, username: str, token_id: int, label: str) -> bool:
        return await self.accounts.rename_token(username, token_id, label)
