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

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from dockyard.accounts import readmodels as accounts_views
from dockyard.accounts.readmodels import UserListing
from dockyard.accounts.records import AuditEvent, Principal, User
from dockyard.accounts.service import AccountService
from dockyard.db.engine import Database, offload
from dockyard.hub.errors import InvalidInput, NotFound, PermissionDenied, cursor_checked
from dockyard.hub.records import Page
from dockyard.registry import readmodels as registry_views
from dockyard.registry.readmodels import NamespaceUsage

__all__ = ["AuditFilter", "AuditPage", "NamespaceUsage", "SiteAdmin", "StorageUsage", "UserRow", "as_filter"]
MAX_QUERY = 100


@dataclass(frozen=True, slots=True)
class UserRow(UserListing):
    """A user as the accounts list them, with the number of repositories in their namespace."""

    repositories: int = 0


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

    async def users(
        self, viewer: Principal | None, query: str, page: int, page_size: int, cursor: str | None = None
    ) -> Page[UserRow]:
        """``cursor``: from a page's links (``Page.next_cursor``), the page it leads to."""
        require_admin(viewer)
        with cursor_checked():
            return await self._users(query.strip().lower()[:MAX_QUERY], max(1, page), page_size, cursor)

    @offload
    def _users(self, text: str, page: int, page_size: int, cursor: str | None) -> Page[UserRow]:
        offset = (page - 1) * page_size
        with self.db.read.connect() as conn:
            found = accounts_views.user_page(conn, text, cursor=cursor, offset=offset, limit=page_size)
            held = registry_views.repository_counts(conn, [u.username for u in found.users])
        items = [UserRow(**asdict(u), repositories=held.get(u.username, 0)) for u in found.users]
        return Page.keyed(items, found.count, page, page_size, found.cursors, followed=bool(cursor))

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
        with self.db.read.connect() as conn:
            found = accounts_views.audit_page(
                conn,
                kind=filters.kind,
                actor=filters.actor,
                target=filters.target,
                since=_day(filters.since) if filters.since else None,
                until=_day(filters.until) + timedelta(days=1) if filters.until else None,
                before=before,
                limit=limit + 1,
            )
        return AuditPage(found[:limit], found[limit - 1].id if len(found) > limit else None)

    async def event_kinds(self, viewer: Principal | None) -> list[str]:
        require_admin(viewer)
        return await self._kinds()

    @offload
    def _kinds(self) -> list[str]:
        with self.db.read.connect() as conn:
            return accounts_views.audit_kinds(conn)

    # -- storage --------------------------------------------------------------------------------

    async def storage(self, viewer: Principal | None, page: int, page_size: int) -> StorageUsage:
        require_admin(viewer)
        return await self._storage(max(1, page), page_size)

    @offload
    def _storage(self, page: int, page_size: int) -> StorageUsage:
        with self.db.read.connect() as conn:
            usage = registry_views.namespace_usage(conn)
            total_blobs, total_size = registry_views.blob_totals(conn)
        usage.sort(key=lambda u: (-u.size, u.namespace))
        chosen = usage[(page - 1) * page_size : page * page_size]
        return StorageUsage(Page(chosen, len(usage), page, page_size), total_blobs, total_size)


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
