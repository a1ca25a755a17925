"""Site administration: what the /admin pages read and do, for site administrators only.

    users     list and search (name, email, full name), with each one's repositories; disable
              and enable, make and unmake administrators (through AccountService, which audits)
    audit     the audit log filtered by kind, actor, target, and a date range, newest first, in
              pages that continue from the last id shown (an index walk, however long the log)
    storage   per namespace: repositories, and the bytes of the distinct blobs they link (a blob
              shared by two repositories of one namespace counts once; one shared across
              namespaces counts in each, so the total below the table is the real one)

Anyone else gets NotFound (the pages do not exist for them); an anonymous visitor is asked to log
in. An administrator cannot disable or demote themselves here: the page would lock out the only
person able to undo it (the command line still can).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, or_, select

from dockyard.accounts.records import AuditEvent, Principal, User
from dockyard.accounts.service import AccountService, events
from dockyard.db import models
from dockyard.db.engine import Database, offload
from dockyard.hub.errors import InvalidInput, NotFound, PermissionDenied
from dockyard.hub.records import Page
from dockyard.hub.tables import aware, links, namespaces, repositories, users, utc

blobs = cast(Table, models.Blob.__table__)
MAX_QUERY = 100


@dataclass(frozen=True, slots=True)
class UserRow:
    username: str
    email: str
    full_name: str
    is_admin: bool
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None
    repositories: int


@dataclass(frozen=True, slots=True)
class AuditFilter:
    kind: str = ""
    actor: str = ""
    target: str = ""  # contains
    since: date | None = None
    until: date | None = None  # inclusive

    @property
    def active(self) -> bool:
        return bool(self.kind or self.actor or self.target or self.since or self.until)


@dataclass(frozen=True, slots=True)
class AuditPage:
    events: list[AuditEvent]
    next_before: int | None  # the id to continue from; None on the last page


@dataclass(frozen=True, slots=True)
class NamespaceUsage:
    namespace: str
    repositories: int
    blobs: int
    size: int


@dataclass(frozen=True, slots=True)
class StorageUsage:
    namespaces: Page[NamespaceUsage]
    total_blobs: int
    total_size: int  # every blob once


def require_admin(viewer: Principal | None) -> Principal:
    if viewer is None:
        raise PermissionDenied("log in as a site administrator")
    if not viewer.is_admin or viewer.token_scopes is not None:
        raise NotFound("no such page")
    return viewer


class SiteAdmin:
    def __init__(self, database: Database, accounts: AccountService) -> None:
        self.db = database
        self.accounts = accounts

    # -- users ----------------------------------------------------------------------------------

    async def users(self, viewer: Principal | None, query: str, page: int, page_size: int) -> Page[UserRow]:
        require_admin(viewer)
        return await self._users(query.strip().lower()[:MAX_QUERY], max(1, page), page_size)

    @offload
    def _users(self, text: str, page: int, page_size: int) -> Page[UserRow]:
        held = (
            select(repositories.c.namespace, func.count().label("n"))
            .group_by(repositories.c.namespace)
            .subquery()
        )
        where = []
        if text:
            where.append(
                or_(
                    namespaces.c.name.contains(text, autoescape=True),
                    func.lower(users.c.email).contains(text, autoescape=True),
                    func.lower(users.c.full_name).contains(text, autoescape=True),
                )
            )
        base = select(users.c.id).select_from(users.join(namespaces)).where(*where)
        query = (
            select(
                namespaces.c.name,
                users.c.email,
                users.c.full_name,
                users.c.is_admin,
                users.c.disabled_at,
                users.c.created_at,
                users.c.last_login_at,
                func.coalesce(held.c.n, 0).label("held"),
            )
            .select_from(users.join(namespaces).outerjoin(held, held.c.namespace == namespaces.c.name))
            .where(*where)
            .order_by(namespaces.c.name)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        with self.db.read.connect() as conn:
            rows = conn.execute(query).all()
            count = conn.execute(select(func.count()).select_from(base.subquery())).scalar_one()
        items = [
            UserRow(
                r.name,
                r.email,
                r.full_name,
                bool(r.is_admin),
                r.disabled_at is not None,
                utc(r.created_at),
                aware(r.last_login_at),
                int(r.held),
            )
            for r in rows
        ]
        return Page(items, int(count), page, page_size)

    async def set_disabled(self, viewer: Principal | None, username: str, disabled: bool) -> User:
        admin = require_admin(viewer)
        if username == admin.username:
            raise InvalidInput("you cannot disable your own account here")
        return await self.accounts.set_disabled(username, disabled, actor=admin.username)

    async def set_admin(self, viewer: Principal | None, username: str, is_admin: bool) -> User:
        admin = require_admin(viewer)
        if username == admin.username and not is_admin:
            raise InvalidInput("you cannot remove your own administrator rights here")
        return await self.accounts.set_admin(username, is_admin, actor=admin.username)

    # -- audit log ------------------------------------------------------------------------------

    async def audit(
        self, viewer: Principal | None, filters: AuditFilter, before: int | None, limit: int
    ) -> AuditPage:
        require_admin(viewer)
        return await self._audit(filters, before, max(1, min(limit, 500)))

    @offload
    def _audit(self, filters: AuditFilter, before: int | None, limit: int) -> AuditPage:
        query = select(events).order_by(events.c.id.desc()).limit(limit + 1)
        if before is not None:
            query = query.where(events.c.id < before)
        if filters.kind:
            query = query.where(events.c.kind == filters.kind)
        if filters.actor:
            query = query.where(events.c.actor == filters.actor)
        if filters.target:
            query = query.where(events.c.target.contains(filters.target, autoescape=True))
        if filters.since:
            query = query.where(events.c.created_at >= _day(filters.since))
        if filters.until:
            query = query.where(events.c.created_at < _day(filters.until) + timedelta(days=1))
        with self.db.read.connect() as conn:
            rows = conn.execute(query).all()
        found = [
            AuditEvent(r.id, utc(r.created_at), r.kind, r.actor, r.ip, r.target, dict(r.detail or {}))
            for r in rows[:limit]
        ]
        return AuditPage(found, found[-1].id if len(rows) > limit else None)

    async def event_kinds(self, viewer: Principal | None) -> list[str]:
        require_admin(viewer)
        return await self._kinds()

    @offload
    def _kinds(self) -> list[str]:
        with self.db.read.connect() as conn:
            return list(conn.execute(select(events.c.kind).distinct().order_by(events.c.kind)).scalars())

    # -- storage --------------------------------------------------------------------------------

    async def storage(self, viewer: Principal | None, page: int, page_size: int) -> StorageUsage:
        require_admin(viewer)
        return await self._storage(max(1, page), page_size)

    @offload
    def _storage(self, page: int, page_size: int) -> StorageUsage:
        linked = (
            select(repositories.c.namespace, links.c.digest, blobs.c.size)
            .select_from(links.join(repositories).join(blobs, blobs.c.digest == links.c.digest))
            .distinct()
            .subquery()
        )
        with self.db.read.connect() as conn:
            held: dict[str, int] = dict(
                conn.execute(
                    select(repositories.c.namespace, func.count()).group_by(repositories.c.namespace)
                ).all()
            )
            sizes = {
                r.namespace: (int(r.n), int(r.size or 0))
                for r in conn.execute(
                    select(
                        linked.c.namespace, func.count().label("n"), func.sum(linked.c.size).label("size")
                    ).group_by(linked.c.namespace)
                ).all()
            }
            total = conn.execute(select(func.count(), func.sum(blobs.c.size)).select_from(blobs)).one()
        usage = [NamespaceUsage(name, int(count), *sizes.get(name, (0, 0))) for name, count in held.items()]
        usage.sort(key=lambda u: (-u.size, u.namespace))
        chosen = usage[(page - 1) * page_size : page * page_size]
        return StorageUsage(Page(chosen, len(usage), page, page_size), int(total[0]), int(total[1] or 0))


def _day(value: date) -> datetime:
    return datetime.combine(value, time(0), tzinfo=UTC)


def as_filter(values: dict[str, Any]) -> AuditFilter:
    """The audit page's query string as a filter; a date that does not parse is an error."""
    dates = {}
    for name in ("since", "until"):
        text = str(values.get(name) or "").strip()
        try:
            dates[name] = date.fromisoformat(text) if text else None
        except ValueError:
            raise InvalidInput(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None
    return AuditFilter(
        kind=str(values.get("kind") or "").strip()[:64],
        actor=str(values.get("actor") or "").strip()[:64],
        target=str(values.get("target") or "").strip()[:255],
        **dates,
    )
