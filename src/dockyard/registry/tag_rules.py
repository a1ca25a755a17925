"""Saving a repository's immutable-tag setting (enforced by ``immutability.py`` in every push).

TagRules(store).set(repository, rules)   on (every tag when ``rules`` is empty) ...
TagRules(store).set(repository, None)    ... or off
TagRules(store).get(repository)          None when off, else the rules
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, select

from dockyard.db.engine import offload
from dockyard.registry.immutability import immutability, validate
from dockyard.registry.store import REPOSITORY_ID, MetadataStore


class UnknownRepository(LookupError):
    pass


class TagRules:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    @offload
    def get(self, repository: str) -> list[str] | None:
        with self.store.db.read.connect() as conn:
            repo_id = conn.execute(REPOSITORY_ID, {"name": repository}).scalar_one_or_none()
            if repo_id is None:
                raise UnknownRepository(repository)
            row = conn.execute(
                select(immutability.c.rules).where(immutability.c.repository_id == repo_id)
            ).first()
        return None if row is None else list(row.rules or [])

    @offload
    def set(self, repository: str, rules: Sequence[str] | None) -> None:
        saved = None if rules is None else validate(rules)
        with self.store._writing() as conn:
            repo_id = conn.execute(REPOSITORY_ID, {"name": repository}).scalar_one_or_none()
            if repo_id is None:
                raise UnknownRepository(repository)
            conn.execute(delete(immutability).where(immutability.c.repository_id == repo_id))
            if saved is not None:
                conn.execute(
                    immutability.insert().values(
                        repository_id=repo_id, rules=saved, updated_at=datetime.now(UTC)
                    )
                )
