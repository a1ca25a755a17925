"""Retention policies: which tags go, per repository or per namespace (a repository's own policy
wins over its namespace's).

    keep_last N      the N most recently pushed tags stay
    keep_days D      tags pushed or pulled within the last D days stay
    keep REGEX...    tags matching any of these RE2 expressions (whole tag) always stay

A tag goes when none of these keeps it; a policy with neither ``keep_last`` nor ``keep_days``
deletes nothing. ``plan`` lists exactly what ``apply`` deletes: apply deletes each planned tag
only while it still points at the manifest it pointed at when planned (a tag pushed again since
stays), through the registry (which publishes the delete), and writes each deletion to the audit
log. Untagged manifests, and then the blobs nobody uses, go at the next garbage collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import JSON, Integer, String, Table, and_, delete, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.accounts.service import AccountService
from dockyard.clock import utc
from dockyard.db.engine import Database, offload
from dockyard.db.models import Base, Timestamp, utcnow
from dockyard.hub.errors import InvalidInput
from dockyard.hub.tables import manifests, repositories, tag_activity, tags
from dockyard.registry.immutability import InvalidRule, covers, validate
from dockyard.registry.service import Registry


class RetentionPolicy(Base):
    __tablename__ = "retention_policies"

    target: Mapped[str] = mapped_column(String(255), primary_key=True)  # "namespace" or "namespace/name"
    keep_last: Mapped[int | None] = mapped_column(Integer, nullable=True)
    keep_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    keep: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


policies = cast(Table, RetentionPolicy.__table__)


@dataclass(frozen=True, slots=True)
class Policy:
    keep_last: int | None = None
    keep_days: int | None = None
    keep: tuple[str, ...] = ()

    def validated(self) -> Policy:
        if (self.keep_last is not None and self.keep_last < 0) or (
            self.keep_days is not None and self.keep_days < 0
        ):
            raise InvalidInput("keep_last and keep_days are zero or more")
        try:
            return Policy(self.keep_last, self.keep_days, tuple(validate(self.keep)))
        except InvalidRule as exc:
            raise InvalidInput(str(exc)) from None


@dataclass(frozen=True, slots=True)
class Doomed:
    repository: str
    tag: str
    digest: str
    pushed_at: datetime


class Retention:
    def __init__(self, database: Database, registry: Registry, accounts: AccountService) -> None:
        self.db = database
        self.registry = registry
        self.accounts = accounts

    @offload
    def get(self, target: str) -> Policy | None:
        with self.db.read.connect() as conn:
            row = conn.execute(select(policies).where(policies.c.target == target)).first()
        return None if row is None else Policy(row.keep_last, row.keep_days, tuple(row.keep or ()))

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
            rules = {row.target: Policy(row.keep_last, row.keep_days, tuple(row.keep or ())) for row in
                     conn.execute(select(policies))}  # fmt: skip
            doomed: list[Doomed] = []
            for repo_id, name, namespace in conn.execute(_repositories(target)):
                policy = rules.get(name) or rules.get(namespace)
                if policy is not None and (policy.keep_last is not None or policy.keep_days is not None):
                    doomed += _doomed(conn, repo_id, name, policy, now)
        return doomed

    async def apply(
        self, now: datetime, target: str | None = None, *, actor: str | None = None
    ) -> list[Doomed]:
        deleted = []
        for tag in await self.plan(now, target):
            if await self.registry.delete_tag_if(tag.repository, tag.tag, tag.digest, actor=actor):
                deleted.append(tag)
                detail = {"tag": tag.tag, "digest": tag.digest, "pushed_at": tag.pushed_at.isoformat()}
                await self.accounts.record_event(
                    "retention.delete", actor=actor, target=tag.repository, detail=detail
                )
        return deleted


def _as_json(policy: Policy) -> dict[str, Any]:
    return {"keep_last": policy.keep_last, "keep_days": policy.keep_days, "keep": list(policy.keep)}


def _repositories(target: str | None) -> Any:
    query = select(repositories.c.id, repositories.c.name, repositories.c.namespace).order_by(
        repositories.c.name
    )
    if target is not None:
        query = query.where(or_(repositories.c.name == target, repositories.c.namespace == target))
    return query


def _doomed(conn: Connection, repo_id: int, name: str, policy: Policy, now: datetime) -> list[Doomed]:
    activity = and_(tag_activity.c.repository_id == tags.c.repository_id, tag_activity.c.tag == tags.c.name)
    rows = conn.execute(
        select(
            tags.c.name,
            tags.c.updated_at,
            manifests.c.digest,
            tag_activity.c.last_pushed_at,
            tag_activity.c.last_pulled_at,
        )
        .select_from(
            tags.join(manifests, manifests.c.id == tags.c.manifest_id).outerjoin(tag_activity, activity)
        )
        .where(tags.c.repository_id == repo_id)
    ).all()
    pushed = {row.name: utc(row.last_pushed_at or row.updated_at) for row in rows}
    newest = sorted(rows, key=lambda row: (pushed[row.name], row.name), reverse=True)
    kept = {row.name for row in newest[: policy.keep_last or 0]}
    since = None if policy.keep_days is None else now - timedelta(days=policy.keep_days)
    doomed = []
    for row in newest:
        pulled = row.last_pulled_at and utc(row.last_pulled_at)
        recent = since is not None and (pushed[row.name] >= since or bool(pulled and pulled >= since))
        if row.name in kept or recent or (policy.keep and covers(policy.keep, row.name)):
            continue
        doomed.append(Doomed(name, row.name, row.digest, pushed[row.name]))
    return sorted(doomed, key=lambda d: d.tag)
