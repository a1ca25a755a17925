"""The few reads and writes the API needs that HubService and AccountService do not offer.

    repository_facts   per repository: its id, the media types of its manifests (Docker Hub's
                       ``media_types``) and the bytes of the blobs it links (``storage_size``)
    user_ids           usernames to user ids (a tag's ``creator`` and ``last_updater``)
    rename_token       a personal access token's label (Docker Hub lets PATCH change it)

All are candidates to move into those services; until then they live here, one query each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, func, select, update

from dockyard.db import models
from dockyard.db.engine import Database, offload

repositories = cast(Table, models.Repository.__table__)
manifests = cast(Table, models.Manifest.__table__)
links = cast(Table, models.RepositoryBlob.__table__)
blobs = cast(Table, models.Blob.__table__)
tokens = cast(Table, models.AccessToken.__table__)
users = cast(Table, models.User.__table__)
namespaces = cast(Table, models.Namespace.__table__)


@dataclass(frozen=True, slots=True)
class RepositoryFacts:
    id: int
    media_types: tuple[str, ...]
    storage_size: int


class ApiStore:
    def __init__(self, database: Database) -> None:
        self.db = database

    @offload
    def repository_facts(self, names: Iterable[str]) -> dict[str, RepositoryFacts]:
        wanted = sorted(set(names))
        if not wanted:
            return {}
        with self.db.read.connect() as conn:
            ids = dict(
                conn.execute(
                    select(repositories.c.name, repositories.c.id).where(repositories.c.name.in_(wanted))
                ).all()
            )
            types: dict[int, list[str]] = {}
            for repo_id, media_type in conn.execute(
                select(manifests.c.repository_id, manifests.c.media_type)
                .where(manifests.c.repository_id.in_(ids.values()))
                .group_by(manifests.c.repository_id, manifests.c.media_type)
                .order_by(manifests.c.media_type)
            ):
                types.setdefault(repo_id, []).append(media_type)
            sizes = dict(
                conn.execute(
                    select(links.c.repository_id, func.sum(blobs.c.size))
                    .select_from(links.join(blobs))
                    .where(links.c.repository_id.in_(ids.values()))
                    .group_by(links.c.repository_id)
                ).all()
            )
        return {
            name: RepositoryFacts(repo_id, tuple(types.get(repo_id, ())), int(sizes.get(repo_id) or 0))
            for name, repo_id in ids.items()
        }

    @offload
    def user_ids(self, usernames: Iterable[str | None]) -> dict[str, int]:
        """The ids of the accounts by these names; a deleted account's name has none."""
        wanted = sorted({name for name in usernames if name})
        if not wanted:
            return {}
        query = (
            select(namespaces.c.name, users.c.id)
            .select_from(users.join(namespaces))
            .where(namespaces.c.name.in_(wanted))
        )
        with self.db.read.connect() as conn:
            return {name: int(user_id) for name, user_id in conn.execute(query).all()}

    @offload
    def rename_token(self, username: str, token_id: int, label: str) -> bool:
        """False when the user has no such token."""
        owner = select(users.c.id).select_from(users.join(namespaces)).where(namespaces.c.name == username)
        with self.db.write.begin() as conn:
            result = conn.execute(
                update(tokens)
                .where(tokens.c.id == token_id, tokens.c.user_id == owner.scalar_subquery())
                .values(label=label)
            )
            return bool(result.rowcount)
