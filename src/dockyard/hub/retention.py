"""Retention policies: which tags go, per repository or per namespace (a repository's own policy
wins over its namespace's).

    keep_last N      the N most recently pushed tags stay
    keep_days D      tags pushed or pulled within the last D days stay
    keep REGEX...    tags matching any of these RE2 expressions (whole tag) always stay
    untagged_days D  untagged manifests (no tag, listed by no index, not a referrer of a manifest
                     still there) pushed more than D days ago go; younger ones are kept, by the
                     garbage collector too (``spared``, which services.py gives the collector)

A tag goes when none of these keeps it; a policy with neither ``keep_last`` nor ``keep_days``
deletes no tag. ``plan`` lists exactly what ``apply`` deletes: apply deletes each planned tag
only while it still points at the manifest it pointed at when planned (a tag pushed again since
stays), and each planned manifest only while it is still untagged, through the registry (which
writes the ``tag.deleted`` / ``manifest.deleted`` event in the delete's transaction), and writes
each deletion to the audit log. Without ``untagged_days`` untagged manifests go at the next
garbage collection after its grace period; the blobs nobody uses then go with them.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import JSON, Integer, String, Table, delete, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.accounts.service import AccountService
from dockyard.clock import utc
from dockyard.db.engine import Database, offload
from dockyard.db.models import Base, Timestamp, utcnow
from dockyard.hub.errors import InvalidInput
from dockyard.hub.tables import tag_activity
from dockyard.registry import readmodels
from dockyard.registry.immutability import InvalidRule, covers, validate
from dockyard.registry.service import Registry


class RetentionPolicy(Base):
    __tablename__ = "retention_policies"

    target: Mapped[str] = mapped_column(String(255), primary_key=True)  # "namespace" or "namespace/name"
    keep_last: Mapped[int | None] = mapped_column(Integer, nullable=True)
    keep_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    keep: Mapped[list[str]] = mapped_column(JSON, default=list)
    untagged_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


policies = cast(Table, RetentionPolicy.__table__)


@dataclass(frozen=True, slots=True)
class Policy:
    keep_last: int | None = None
    keep_days: int | None = None
    keep: tuple[str, ...] = ()
    untagged_days: int | None = None

    @property
    def deletes_tags(self) -> bool:
        return self.keep_last is not None or self.keep_days is not None

    def validated(self) -> Policy:
        counts = (self.keep_last, self.keep_days, self.untagged_days)
        if any(count is not None and count < 0 for count in counts):
            raise InvalidInput("keep_last, keep_days and untagged_days are zero or more")
        try:
            return Policy(self.keep_last, self.keep_days, tuple(validate(self.keep)), self.untagged_days)
        except InvalidRule as exc:
            raise InvalidInput(str(exc)) from None


@dataclass(frozen=True, slots=True)
class Doomed:
    repository: str
    tag: str | None  # None: an untagged manifest
    digest: str
    pushed_at: datetime

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}" if self.tag else f"{self.repository}@{self.digest}"


class Retention:
    def __init__(self, database: Database, registry: Registry, accounts: AccountService) -> None:
        self.db = database
        self.registry = registry
        self.accounts = accounts

    @offload
    def get(self, target: str) -> Policy | None:
        with self.db.read.connect() as conn:
            row = conn.execute(select(policies).where(policies.c.target == target)).first()
        return None if row is None else _policy(row)

    async def set(self, target: str, policy: Policy | None, *, actor: str | None) -> None:
        checked = None if policy is None else policy.validated()
        await self._save(target, checked)
        detail: dict[str, object] = {"policy": None if checked is None else _as_json(checked)}
        await self.accounts.record_event("retention.policy", actor=actor, target=target, detail=detail)

    @offload
    def _save(self, target: str, policy: Policy | None) -> None:
        with self.db.write.begin() as conn:
            conn.execute(delete(policies).where(policies.c.target == target))
            if policy is not None:
                conn.execute(policies.insert().values(target=target, updated_at=utcnow(), **_as_json(policy)))

    @offload
    def plan(self, now: datetime, target: str | None = None) -> list[Doomed]:
        """Every tag the policies would delete now (within ``target``, a namespace or repository)."""
        with self.db.read.connect() as conn:
            doomed: list[Doomed] = []
            for repo_id, name, policy in _governed(conn, target):
                if policy.deletes_tags:
                    doomed += _doomed(conn, repo_id, name, policy, now)
                if policy.untagged_days is not None:
                    cutoff = now - timedelta(days=policy.untagged_days)
                    doomed += [Doomed(name, None, d, at) for d, at, _ in _untagged(conn, repo_id, cutoff)]
        return doomed

    @offload
    def spared(self, now: datetime) -> builtins.set[int]:
        """Ids of the untagged manifests a policy's ``untagged_days`` still keeps (the collector
        leaves them alone)."""
        kept: builtins.set[int] = builtins.set()
        with self.db.read.connect() as conn:
            for repo_id, _, policy in _governed(conn, None):
                if policy.untagged_days is not None:
                    cutoff = now - timedelta(days=policy.untagged_days)
                    kept |= {mid for _, at, mid in _untagged(conn, repo_id, None) if at >= cutoff}
        return kept

    async def apply(
        self, now: datetime, target: str | None = None, *, actor: str | None = None
    ) -> list[Doomed]:
        deleted = []
        for item in await self.plan(now, target):
            if await self._delete(item, actor):
                deleted.append(item)
                detail = {"digest": item.digest, "pushed_at": item.pushed_at.isoformat()}
                detail["tag" if item.tag else "manifest"] = item.tag or item.digest
                await self.accounts.record_event(
                    "retention.delete", actor=actor, target=item.repository, detail=detail
                )
        return deleted

    async def _delete(self, item: Doomed, actor: str | None) -> bool:
        if item.tag is None:
            return await self.registry.delete_untagged_manifest(item.repository, item.digest, actor=actor)
        return await self.registry.delete_tag_if(item.repository, item.tag, item.digest, actor=actor)


def _as_json(policy: Policy) -> dict[str, Any]:
    return {
        "keep_last": policy.keep_last,
        "keep_days": policy.keep_days,
        "keep": list(policy.keep),
        "untagged_days": policy.untagged_days,
    }


def _policy(row: Any) -> Policy:
    return Policy(row.keep_last, row.keep_days, tuple(row.keep or ()), row.untagged_days)


def _governed(conn: Connection, target: str | None) -> list[tuple[int, str, Policy]]:
    """Each repository (within ``target``) that a policy governs: its own, else its namespace's."""
    rules = {row.target: _policy(row) for row in conn.execute(select(policies))}
    governed = []
    for repo in readmodels.repositories_within(conn, target):
        policy = rules.get(repo.name) or rules.get(repo.namespace)
        if policy is not None:
            governed.append((repo.id, repo.name, policy))
    return governed


def _untagged(conn: Connection, repo_id: int, cutoff: datetime | None) -> list[tuple[str, datetime, int]]:
    """(digest, pushed at, id) of the repository's manifests that no tag, index or subject keeps,
    pushed before ``cutoff`` when given."""
    return [(m.digest, m.pushed_at, m.id) for m in readmodels.untagged_manifests(conn, repo_id, cutoff)]


def _doomed(conn: Connection, repo_id: int, name: str, policy: Policy, now: datetime) -> list[Doomed]:
    rows = readmodels.tagged(conn, repo_id)
    activity = {
        row.tag: row
        for row in conn.execute(
            select(tag_activity.c.tag, tag_activity.c.last_pushed_at, tag_activity.c.last_pulled_at).where(
                tag_activity.c.repository_id == repo_id
            )
        )
    }
    pushed, pulled = {}, {}
    for row in rows:
        seen = activity.get(row.name)
        pushed[row.name] = utc(seen.last_pushed_at) if seen and seen.last_pushed_at else row.updated_at
        pulled[row.name] = utc(seen.last_pulled_at) if seen and seen.last_pulled_at else None
    newest = sorted(rows, key=lambda row: (pushed[row.name], row.name), reverse=True)
    kept = {row.name for row in newest[: policy.keep_last or 0]}
    since = None if policy.keep_days is None else now - timedelta(days=policy.keep_days)
    doomed = []
    for row in newest:
        last_pull = pulled[row.name]
        recent = since is not None and (pushed[row.name] >= since or bool(last_pull and last_pull >= since))
        if row.name in kept or recent or (policy.keep and covers(policy.keep, row.name)):
            continue
        doomed.append(Doomed(name, row.name, row.digest, pushed[row.name]))
    return sorted(doomed, key=lambda d: d.tag or "")
