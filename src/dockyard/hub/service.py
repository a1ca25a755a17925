"""HubService: what the pages and the JSON API ask of the hub.

Listing, search and detail of repositories as the viewer may see them; the Tags page's data;
stars; repository settings (descriptions, visibility, team permissions, webhooks, deletion);
the namespaces a viewer may create repositories in. Every method takes the viewer (a
``Principal`` or None for anonymous) and applies the access policy of the accounts domain:

    see a repository, its tags, star it            pull
    create a repository in a namespace            push (on the new name)
    delete tags, settings, webhooks, delete it     delete (the policy's admin action)

A repository the viewer may not pull raises NotFound, exactly as a missing one. Changes go
through the service that owns the data (accounts for descriptions, visibility and permissions;
the registry for tags, so its events fire); the hub's own tables are written here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from dockyard.accounts import names
from dockyard.accounts import readmodels as accounts_views
from dockyard.accounts.errors import InvalidName
from dockyard.accounts.records import Principal, Profile
from dockyard.accounts.service import AccountService
from dockyard.db.engine import Database, offload
from dockyard.db.keyset import Keyset
from dockyard.digests import Digest
from dockyard.hub import listing
from dockyard.hub import webhooks as hooks
from dockyard.hub.admin import SiteAdmin
from dockyard.hub.attempts import DeliveryDetail, DeliveryLog, delivery_record
from dockyard.hub.errors import Conflict, InvalidInput, NotFound, PermissionDenied, cursor_checked
from dockyard.hub.images import ImageDetail, ImageReader
from dockyard.hub.records import (
    Delivery,
    Page,
    RepositoryDetail,
    RepositoryOrdering,
    RepositorySummary,
    TagInfo,
    TagOrdering,
    TeamAccess,
    Webhook,
)
from dockyard.hub.site import Signup, SiteSettings
from dockyard.hub.tables import aware, deliveries, now, repository_stats, stars, webhooks
from dockyard.hub.tags import TagQueries, TagRow
from dockyard.hub.webhook_store import WebhookStore
from dockyard.proxy import readmodels as proxy_reads
from dockyard.registry import catalog, readmodels, views
from dockyard.registry.errors import RegistryError
from dockyard.registry.immutability import InvalidRule
from dockyard.registry.quotas import Quota
from dockyard.registry.service import Registry
from dockyard.secretbox import SecretBox
from dockyard.storage import PathNotFound, paths

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
MAX_QUERY = 100
MAX_CONFIG_BYTES = 1024 * 1024
PERMISSIONS = ("read", "write", "admin")
OWNERS = "owners"
LIBRARY = "library"

LAST_PULLED = select(repository_stats.c.last_pulled_at).where(
    repository_stats.c.repository_id == bindparam("id")
)


@dataclass(frozen=True, slots=True)
class NamespaceInfo:
    name: str
    kind: str  # "user" | "org" | "library" | "proxy"
    created_at: datetime | None
    profile: Profile | None = None  # a user's: full name, location, company, website


def canonical(name: str) -> str:
    """The canonical repository name, in any namespace (a proxy's included: ``hub/app``); an
    invalid one cannot exist, so it is NotFound."""
    try:
        return names.existing_repository(name)
    except InvalidName:
        raise NotFound(f"repository {name!r} not found") from None


def _not_found(name: str) -> NotFound:
    return NotFound(f"repository {name!r} not found")


def _page_bounds(page: int, page_size: int) -> tuple[int, int]:
    page = max(1, page)
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    return page, page_size


class HubService:
    def __init__(
        self,
        database: Database,
        accounts: AccountService,
        registry: Registry,
        *,
        base_url: str,
        secrets: SecretBox,
        signup: Signup = "open",
    ) -> None:
        """``signup``: DOCKYARD_SIGNUP, the default until an administrator chooses (hub/site.py)."""
        self.db = database
        self.accounts = accounts
        self.registry = registry
        self.base_url = base_url.rstrip("/")
        self.webhook_store = WebhookStore(database, secrets)
        self.tag_queries = TagQueries(database)
        self.listings = listing.Listings(database)
        self.images = ImageReader(database, registry)
        self.delivery_log = DeliveryLog(database, self.base_url)
        self.admin = SiteAdmin(database, accounts)
        self.site = SiteSettings(database, signup)
        self._insert = postgresql.insert if database.dialect == "postgresql" else sqlite.insert
        self._platforms: dict[str, tuple[str | None, str | None, str | None]] = {}

    # -- access ---------------------------------------------------------------------------------

    async def actions(self, viewer: Principal | None, name: str) -> frozenset[str]:
        return await self.accounts.repository_actions(viewer, canonical(name))

    async def _require(self, viewer: Principal | None, name: str, action: str) -> str:
        """The canonical name when the repository exists, the viewer sees it and may do ``action``."""
        name = canonical(name)
        allowed = await self.accounts.repository_actions(viewer, name)
        if "pull" not in allowed or not await self._exists(name):
            raise _not_found(name)
        if action not in allowed:
            if viewer is None:
                raise PermissionDenied("log in to do this")
            raise PermissionDenied(f"you do not have {action!r} rights on {name}")
        return name

    @offload
    def _exists(self, name: str) -> bool:
        with self.db.read.connect() as conn:
            return readmodels.repository_id(conn, name) is not None

    # -- namespaces -----------------------------------------------------------------------------

    async def namespace(self, name: str) -> NamespaceInfo:
        if name == LIBRARY:
            return NamespaceInfo(LIBRARY, "library", None)
        user = await self.accounts.get_user(name)
        if user is not None:
            return NamespaceInfo(user.username, "user", user.created_at, user.profile)
        org = await self.accounts.get_org(name)
        if org is not None:
            return NamespaceInfo(org.name, "org", org.created_at)
        if (since := await self._proxy_since(name)) is not None:
            return NamespaceInfo(name, "proxy", aware(since))
        raise NotFound(f"no user or organisation named {name!r}")

    @offload
    def _proxy_since(self, name: str) -> datetime | None:
        with self.db.read.connect() as conn:
            return proxy_reads.proxy_since(conn, name)

    @offload
    def writable_namespaces(self, viewer: Principal | None) -> list[str]:
        """Where the viewer may create repositories: their own namespace and the organisations whose
        owners team holds them (the policy's rule for names that do not exist yet); everything for
        site administrators, library included."""
        if viewer is None:
            return []
        if viewer.token_scopes is not None and not viewer.token_scopes & {"repo:admin", "repo:write"}:
            return []
        with self.db.read.connect() as conn:
            if viewer.is_admin:
                return [viewer.username, *accounts_views.organization_names(conn), LIBRARY]
            return [viewer.username, *accounts_views.owned_organizations(conn, viewer.user_id)]

    # -- listing and search (in SQL: hub/listing.py) --------------------------------------------

    async def namespace_repositories(
        self,
        viewer: Principal | None,
        namespace: str,
        *,
        page: int = 1,
        page_size: int = 25,
        ordering: RepositoryOrdering = "-last_pushed",
        contains: str = "",
        cursor: str | None = None,
    ) -> Page[RepositorySummary]:
        """``contains``: only names (after the namespace) holding it, case-insensitive.
        ``cursor``: from a page's links (``Page.next_cursor``), the page it leads to."""
        condition = listing.in_namespace(namespace)
        text = contains.strip().lower()[:MAX_QUERY]
        if text:
            condition = condition & listing.named(text)
        return await self._page(viewer, condition, listing.ORDERS[ordering], page, page_size, cursor)

    async def search(
        self,
        viewer: Principal | None,
        query: str,
        *,
        page: int = 1,
        page_size: int = 25,
        ordering: RepositoryOrdering | None = None,
        cursor: str | None = None,
    ) -> Page[RepositorySummary]:
        """Repositories whose name or short description contains ``query`` (case-insensitive), that
        the viewer may pull. Default order: exact name, then name prefix, official images, then
        stars and pulls. An empty query lists everything visible, most starred first."""
        text = query.strip().lower()[:MAX_QUERY]
        condition = listing.matching(text) if text else None
        if ordering is not None:
            order = listing.ORDERS[ordering]
        else:
            order = listing.relevance(text) if text else listing.ORDERS["-stars"]
        return await self._page(viewer, condition, order, page, page_size, cursor)

    async def starred(
        self,
        viewer: Principal | None,
        username: str,
        *,
        page: int = 1,
        page_size: int = 25,
        cursor: str | None = None,
    ) -> Page[RepositorySummary]:
        """The repositories a user starred that the viewer may see, by name (stars are public, as
        on Docker Hub; private repositories stay hidden from those who cannot pull them)."""
        user = await self.accounts.get_user(username)
        if user is None:
            raise NotFound(f"no user named {username!r}")
        condition = listing.with_ids(select(stars.c.repository_id).where(stars.c.user_id == user.id))
        return await self._page(viewer, condition, listing.ORDERS["name"], page, page_size, cursor)

    async def _page(
        self,
        viewer: Principal | None,
        condition: Any,
        order: Keyset,
        page: int,
        page_size: int,
        cursor: str | None,
    ) -> Page[RepositorySummary]:
        page, page_size = _page_bounds(page, page_size)
        with cursor_checked():
            found = await self.listings.page(
                viewer, condition, order, cursor=cursor, offset=(page - 1) * page_size, limit=page_size
            )
        return Page.keyed(found.items, found.count, page, page_size, found.cursors, followed=bool(cursor))

    # -- one repository -------------------------------------------------------------------------

    async def repository(self, viewer: Principal | None, name: str) -> RepositoryDetail:
        name = canonical(name)
        allowed = await self.accounts.repository_actions(viewer, name)
        if "pull" not in allowed:
            raise _not_found(name)
        detail = await self._detail(name, viewer.user_id if viewer else None, allowed)
        if detail is None:
            raise _not_found(name)
        return detail

    @offload
    def _detail(self, name: str, user_id: int | None, allowed: frozenset[str]) -> RepositoryDetail | None:
        with self.db.read.connect() as conn:
            row = catalog.detail(conn, name)
            if row is None:
                return None
            last_pulled = conn.execute(LAST_PULLED, {"id": row.id}).scalar_one_or_none()
            starred = user_id is not None and self._starred(conn, row.id, user_id)
        return RepositoryDetail(
            summary=listing.summary(row),
            full_description=row.full_description,
            created_by=row.created_by,
            last_pulled_at=aware(last_pulled),
            starred=starred,
            actions=allowed,
        )

    @staticmethod
    def _starred(conn: Connection, repo_id: int, user_id: int) -> bool:
        query = select(stars.c.user_id).where(stars.c.repository_id == repo_id, stars.c.user_id == user_id)
        return conn.execute(query).first() is not None

    async def create_repository(
        self,
        viewer: Principal | None,
        namespace: str,
        name: str,
        *,
        description: str = "",
        full_description: str = "",
        private: bool | None = None,
    ) -> RepositoryDetail:
        """A new, empty repository; ``private`` None takes the namespace's default."""
        if viewer is None:
            raise PermissionDenied("log in to create repositories")
        name = name.strip()
        if not name or "/" in name:
            raise InvalidInput(
                "a repository name is one path component: lowercase letters, digits, '.', '_', '-'"
            )
        full = names.canonical_repository(f"{namespace}/{name}")
        if "push" not in await self.accounts.repository_actions(viewer, full):
            raise PermissionDenied(f"you cannot create repositories in {namespace!r}")
        await self.accounts.create_repository(
            full,
            private=private,
            description=description,
            full_description=full_description,
            created_by=viewer,
        )
        return await self.repository(viewer, full)

    async def update_repository(
        self,
        viewer: Principal | None,
        name: str,
        *,
        description: str | None = None,
        full_description: str | None = None,
        private: bool | None = None,
    ) -> RepositoryDetail:
        name = await self._require(viewer, name, "delete")
        actor = viewer.username if viewer else None
        if description is not None or full_description is not None:
            if description is None:
                description = (await self.repository(viewer, name)).summary.description
            await self.accounts.set_description(name, description, full_description, actor=actor)
        if private is not None:
            await self.accounts.set_visibility(name, private, actor=actor)
        return await self.repository(viewer, name)

    async def delete_repository(self, viewer: Principal | None, name: str) -> None:
        """The repository with its tags, manifests, blob links, permissions, stars, statistics,
        webhooks, build link and upload sessions: the registry deletes what is its own and writes
        ``repository.deleted``, whose handlers (registered by services.py: the hub's, the builds',
        the accounts') remove the rest and audit it. Blob bytes stay in storage for garbage
        collection, as on a manifest delete."""
        name = await self._require(viewer, name, "delete")
        if not await self.registry.delete_repository(name, viewer.username if viewer else None):
            raise _not_found(name)

    async def delete_account(self, viewer: Principal | None, confirm: str) -> int:
        """Delete the viewer's own account, typed again as ``confirm``: first every repository in
        its namespace (each as a repository is deleted), then the account (its name stays retired).
        Refused, with nothing deleted, while it is an organisation's only owner. Returns the number
        of repositories deleted."""
        if viewer is None or viewer.token_scopes is not None:
            raise PermissionDenied("log in with your password to delete your account")
        if confirm.strip() != viewer.username:
            raise InvalidInput(f"type {viewer.username} exactly to confirm; nothing was deleted")
        owned = await self.accounts.last_owner_of(viewer.username)
        if owned:
            raise Conflict(f"you are the only owner of {', '.join(owned)}; add another owner first")
        held = await self.accounts.list_repositories(viewer.username)
        for repo in held:
            await self.delete_repository(viewer, repo.name)
        await self.accounts.delete_user(viewer.username, actor=viewer.username)
        await self.recount_stars()
        return len(held)

    async def namespace_quota(self, viewer: Principal | None, namespace: str) -> Quota:
        """The namespace's quota and usage: for site administrators and whoever may push into it."""
        if viewer is None:
            raise PermissionDenied("log in to do this")
        if not viewer.is_admin and namespace not in await self.writable_namespaces(viewer):
            raise NotFound(f"no quota of {namespace!r} you may see")
        return await self.registry.uploads.quotas.get(namespace)

    async def set_namespace_quota(self, viewer: Principal | None, namespace: str, limit: int | None) -> Quota:
        """Set (None: remove) a namespace's quota; site administrators only."""
        if viewer is None or not viewer.is_admin or viewer.token_scopes is not None:
            raise PermissionDenied("only site administrators set quotas")
        if limit is not None and limit < 0:
            raise InvalidInput("a quota is zero bytes or more")
        await self.registry.uploads.quotas.set(namespace, limit)
        await self.accounts.record_event(
            "namespace.quota", actor=viewer.username or None, target=namespace, detail={"limit_bytes": limit}
        )
        return await self.registry.uploads.quotas.get(namespace)

    async def immutable_tags(self, viewer: Principal | None, name: str) -> list[str] | None:
        """None when the repository's tags may move, else the rules (empty: every tag)."""
        name = await self._require(viewer, name, "pull")
        return await self.registry.tag_rules.get(name)

    async def set_immutable_tags(self, viewer: Principal | None, name: str, rules: list[str] | None) -> None:
        """Turn immutable tags on (for the tags matching ``rules``, every tag when empty) or off
        (None); needs admin rights on the repository."""
        name = await self._require(viewer, name, "delete")
        try:
            await self.registry.tag_rules.set(name, rules)
        except InvalidRule as exc:
            raise InvalidInput(str(exc)) from None
        actor = viewer.username if viewer else None
        detail: dict[str, object] = {"enabled": rules is not None, "rules": rules or []}
        await self.accounts.record_event("repository.immutable_tags", actor=actor, target=name, detail=detail)

    # -- tags -----------------------------------------------------------------------------------

    async def tags(
        self,
        viewer: Principal | None,
        name: str,
        *,
        ordering: TagOrdering = "-last_pushed",
        contains: str = "",
        page: int = 1,
        page_size: int = 25,
        cursor: str | None = None,
    ) -> Page[TagInfo]:
        """``cursor``: from a page's links (``Page.next_cursor``), the page it leads to."""
        name = await self._require(viewer, name, "pull")
        page, page_size = _page_bounds(page, page_size)
        with cursor_checked():
            found = await self.tag_queries.page(
                name,
                ordering=ordering,
                contains=contains.strip()[:128],
                exact=None,
                cursor=cursor,
                offset=(page - 1) * page_size,
                limit=page_size,
            )
        if found is None:
            raise _not_found(name)
        items = [await self._finish(row) for row in found.rows]
        return Page.keyed(items, found.count, page, page_size, found.cursors, followed=bool(cursor))

    async def tag(self, viewer: Principal | None, name: str, tag: str) -> TagInfo:
        name = await self._require(viewer, name, "pull")
        found = await self.tag_queries.page(name, ordering="name", contains="", exact=tag, offset=0, limit=1)
        if found is None or not found.rows:
            raise NotFound(f"tag {tag!r} not found in {name}")
        return await self._finish(found.rows[0])

    async def delete_tag(self, viewer: Principal | None, name: str, tag: str) -> None:
        """Untag through the registry, so its ``tag.deleted`` event is written; the manifest stays."""
        name = await self._require(viewer, name, "delete")
        actor = viewer.username if viewer else None
        try:
            await self.registry.delete_manifest(name, tag, actor=actor)  # audited by its event
        except RegistryError:
            raise NotFound(f"tag {tag!r} not found in {name}") from None

    async def delete_tags(self, viewer: Principal | None, name: str, names_: list[str]) -> list[str]:
        """Delete several tags (the Tags page's bulk delete); returns those that were there."""
        name = await self._require(viewer, name, "delete")
        deleted = []
        for tag in dict.fromkeys(t for t in names_ if t):
            with contextlib.suppress(NotFound):
                await self.delete_tag(viewer, name, tag)
                deleted.append(tag)
        return deleted

    async def default_tag(self, viewer: Principal | None, name: str) -> str | None:
        """The tag a pull command should name: latest if there is one, else the newest; None for a
        repository without tags."""
        name = await self._require(viewer, name, "pull")
        latest = await self.tag_queries.page(
            name, ordering="name", contains="", exact="latest", offset=0, limit=1
        )
        if latest is not None and latest.rows:
            return "latest"
        newest = await self.tag_queries.page(
            name, ordering="-last_pushed", contains="", exact=None, offset=0, limit=1
        )
        return newest.rows[0].tag.name if newest is not None and newest.rows else None

    async def image(self, viewer: Principal | None, name: str, digest: str) -> ImageDetail:
        """One manifest of the repository as the image page shows it (hub/images.py); not a pull."""
        name = await self._require(viewer, name, "pull")
        return await self.images.detail(name, digest)

    async def _finish(self, row: TagRow) -> TagInfo:
        """The tag with single images' platforms read from their config blobs."""
        images = []
        for image_row in row.images:
            image = image_row.image
            if image_row.config_digest is not None:
                os, arch, variant = await self._platform(image_row.config_digest)
                image = replace(image, os=os, architecture=arch, variant=variant)
            images.append(image)
        return replace(row.tag, images=tuple(images))

    async def _platform(self, config_digest: str) -> tuple[str | None, str | None, str | None]:
        """os, architecture, variant from an image config (immutable, so cached by digest)."""
        cached = self._platforms.get(config_digest)
        if cached is not None:
            return cached
        platform: tuple[str | None, str | None, str | None] = (None, None, None)
        try:
            path = paths.blob_data(Digest.parse(config_digest))
            info = await self.registry.storage.stat(path)
            if info.size <= MAX_CONFIG_BYTES:
                config = json.loads(await self.registry.storage.get_content(path))
                platform = (
                    _text(config.get("os")),
                    _text(config.get("architecture")),
                    _text(config.get("variant")),
                )
        except (PathNotFound, ValueError, AttributeError, RecursionError):
            return platform  # unreadable now; not cached, a later look may succeed
        if len(self._platforms) > 10_000:
            self._platforms.clear()
        self._platforms[config_digest] = platform
        return platform

    # -- stars ----------------------------------------------------------------------------------

    async def star(self, viewer: Principal | None, name: str, starred: bool = True) -> int:
        """Star (or unstar) a repository the viewer sees; returns its star count."""
        if viewer is None:
            raise PermissionDenied("log in to star repositories")
        name = await self._require(viewer, name, "pull")
        return await self._set_star(name, viewer.user_id, starred)

    @offload
    def _set_star(self, name: str, user_id: int, starred: bool) -> int:
        with self.db.write.begin() as conn:
            repo_id = readmodels.repository_id(conn, name)
            if repo_id is None:
                raise _not_found(name)
            if starred:
                stmt = self._insert(stars).values(user_id=user_id, repository_id=repo_id, created_at=now())
                conn.execute(stmt.on_conflict_do_nothing())
            else:
                conn.execute(
                    delete(stars).where(stars.c.user_id == user_id, stars.c.repository_id == repo_id)
                )
            # Counted, not incremented: a repeated star or unstar cannot drift the listing column.
            count = select(func.count()).where(stars.c.repository_id == repo_id).scalar_subquery()
            return views.set_star_count(conn, repo_id, count)

    @offload
    def recount_stars(self) -> None:
        """Count again the stars of every starred repository: after a user is deleted, whose stars
        went with the account (ON DELETE CASCADE) without passing through ``star``."""

        def counted(repo_id: Any) -> Any:
            return select(func.count()).where(stars.c.repository_id == repo_id).scalar_subquery()

        with self.db.write.begin() as conn:
            views.recount_stars(conn, counted)

    # -- team permissions -----------------------------------------------------------------------

    async def team_access(self, viewer: Principal | None, name: str) -> list[TeamAccess]:
        """Each team of the owning organisation and its permission here (owners hold everything and
        are not listed); empty outside organisations."""
        name = await self._require(viewer, name, "delete")
        org = names.namespace_of(name)
        if await self.accounts.get_org(org) is None:
            return []
        granted = {
            p.team: p.permission
            for p in await self.accounts.list_team_permissions(org)
            if p.repository == name
        }
        return [
            TeamAccess(team.name, granted.get(team.name))
            for team in await self.accounts.list_teams(org)
            if team.name != OWNERS
        ]

    async def set_team_access(
        self, viewer: Principal | None, name: str, team: str, permission: str | None
    ) -> None:
        """Give a team read, write or admin here, or (None) take its permission away."""
        name = await self._require(viewer, name, "delete")
        org = names.namespace_of(name)
        actor = viewer.username if viewer else None
        if permission is None:
            with contextlib.suppress(NotFound):  # already none
                await self.accounts.remove_team_permission(org, team, name, actor=actor)
            return
        if permission not in PERMISSIONS:
            raise InvalidInput(f"permission must be one of {', '.join(PERMISSIONS)}")
        await self.accounts.set_team_permission(org, team, name, permission, actor=actor)

    # -- webhooks -------------------------------------------------------------------------------

    async def webhooks(self, viewer: Principal | None, name: str) -> list[Webhook]:
        name = await self._require(viewer, name, "delete")
        return await self.webhook_store.of_repository(name)

    async def add_webhook(
        self, viewer: Principal | None, name: str, hook_name: str, url: str, secret: str | None = None
    ) -> Webhook:
        """A new active webhook; without a secret one is generated (the caller shows it once)."""
        name = await self._require(viewer, name, "delete")
        hook_name, url = hooks.validate_webhook(hook_name, url)
        secret = (secret or "").strip() or secrets.token_urlsafe(32)
        if len(secret) > 200:
            raise InvalidInput("webhook secrets are at most 200 characters")
        actor = viewer.username if viewer else None
        return await self.webhook_store.add(name, hook_name, url, secret, actor)

    async def remove_webhook(self, viewer: Principal | None, name: str, webhook_id: int) -> None:
        name = await self._require(viewer, name, "delete")
        actor = viewer.username if viewer else None
        if not await self.webhook_store.remove(name, webhook_id, actor):
            raise NotFound(f"no webhook {webhook_id} on {name}")

    async def deliveries(self, viewer: Principal | None, name: str, *, limit: int = 50) -> list[Delivery]:
        """The repository's webhook deliveries, newest first."""
        name = await self._require(viewer, name, "delete")
        return await self._deliveries(name, max(1, min(limit, 500)))

    async def delivery(self, viewer: Principal | None, name: str, delivery_id: int) -> DeliveryDetail:
        """One delivery with its payload and each attempt (hub/attempts.py)."""
        name = await self._require(viewer, name, "delete")
        return await self.delivery_log.detail(name, delivery_id)

    async def test_webhook(self, viewer: Principal | None, name: str, webhook_id: int) -> int:
        """Queue a ping delivery to the webhook; returns the delivery's id."""
        name = await self._require(viewer, name, "delete")
        return await self.delivery_log.queue_ping(name, webhook_id)

    async def redeliver(self, viewer: Principal | None, name: str, delivery_id: int) -> int:
        """Send an earlier delivery's payload again, as a new delivery; returns its id."""
        name = await self._require(viewer, name, "delete")
        return await self.delivery_log.redeliver(name, delivery_id)

    @offload
    def _deliveries(self, name: str, limit: int) -> list[Delivery]:
        with self.db.read.connect() as conn:
            repo_id = readmodels.repository_id(conn, name)
            query = (
                select(deliveries, webhooks.c.name.label("webhook_name"))
                .select_from(deliveries.join(webhooks))
                .where(webhooks.c.repository_id == repo_id)
                .order_by(deliveries.c.id.desc())
                .limit(limit)
            )
            return [delivery_record(row) for row in conn.execute(query).all()] if repo_id is not None else []


# -- rows to records ----------------------------------------------------------------------------


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
