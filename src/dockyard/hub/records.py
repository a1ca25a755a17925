"""Typed records the hub returns to the pages and the JSON API; ORM rows never leave the service."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from dockyard.db.keyset import Cursors

# Django-style: a leading "-" sorts descending. "-last_pushed" is newest first (Docker Hub's
# ``ordering=last_updated``).
TagOrdering = Literal["name", "-name", "last_pushed", "-last_pushed"]
RepositoryOrdering = Literal["name", "-name", "-last_pushed", "last_pushed", "-stars", "-pulls", "pulls"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RepositorySummary:
    """A repository as lists show it (namespace pages, search, explore)."""

    name: str  # canonical: "namespace/repo"
    namespace: str
    is_private: bool
    description: str
    star_count: int
    pull_count: int
    created_at: datetime
    last_pushed_at: datetime | None

    @property
    def short_name(self) -> str:
        """The name without its namespace ("nginx" for library/nginx)."""
        return self.name.split("/", 1)[1]

    @property
    def is_official(self) -> bool:
        return self.namespace == "library"


@dataclass(frozen=True, slots=True)
class RepositoryDetail:
    """One repository as its page shows it, with what the viewer may do there."""

    summary: RepositorySummary
    full_description: str  # Markdown source; hub.markdown.render makes it safe HTML
    created_by: str | None
    last_pulled_at: datetime | None
    starred: bool  # by the viewer
    actions: frozenset[str]  # the viewer's: subset of pull, push, delete

    @property
    def name(self) -> str:
        return self.summary.name

    @property
    def can_push(self) -> bool:
        return "push" in self.actions

    @property
    def can_admin(self) -> bool:
        """Settings, tag deletion, webhooks, permissions: the policy's "delete" action (admin)."""
        return "delete" in self.actions


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """A page of a listing. A keyset-paged listing (``Page.keyed``) carries the opaque cursors its
    ``next`` and ``previous`` links hand back (``?page=N&cursor=...``): following them never goes
    through OFFSET. Without a cursor, ``page`` alone is a jump to that page (OFFSET)."""

    items: list[T]
    count: int  # all matches, not only this page
    page: int
    page_size: int
    next_cursor: str | None = None  # where the next page starts; None for the last page
    previous_cursor: str | None = None  # where the previous one ends; None: go by page number
    keyset: bool = False  # next_cursor decides whether a next page exists
    followed: bool = False  # reached through a cursor: its number is a label, not an offset

    @classmethod
    def keyed(
        cls, items: list[T], count: int, page: int, page_size: int, cursors: Cursors, *, followed: bool
    ) -> Page[T]:
        """The page of a keyset listing. A page with nothing before it is page 1, whatever number
        the link said; the previous link of page 2 is plain page 1 (the head of the list)."""
        page = 1 if cursors.start else page
        previous = cursors.before if page > 2 else None
        return cls(items, count, page, page_size, cursors.after, previous, keyset=True, followed=followed)

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.page_size))

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None if self.keyset else self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """One image: a tag's single image, or one platform of a multi-platform index."""

    digest: str
    media_type: str
    os: str | None
    architecture: str | None
    variant: str | None
    size: int  # compressed: config plus layers as the manifest lists them
    last_pushed_at: datetime | None
    last_pulled_at: datetime | None

    @property
    def platform(self) -> str:
        """ "linux/arm64/v8"; empty when unknown (an artifact, an attestation)."""
        parts = [p for p in (self.os, self.architecture, self.variant) if p]
        return "/".join(parts) if self.os and self.architecture else ""


@dataclass(frozen=True, slots=True)
class TagInfo:
    id: int
    name: str
    digest: str
    media_type: str
    is_index: bool
    images: tuple[ImageInfo, ...]  # platform images (attestations left out); one for a single image
    size: int  # the single image's size; for an index the sum of its platform images
    last_pushed_at: datetime
    pusher: str | None  # who pushed it last
    last_pulled_at: datetime | None  # pulled by this tag's name (not by its digest)
    creator: str | None = None  # who pushed it first


@dataclass(frozen=True, slots=True)
class TeamAccess:
    team: str
    permission: str | None  # None: the team holds nothing on this repository


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    repository: str
    name: str
    url: str
    active: bool
    created_at: datetime
    created_by: str | None
    secret: str = field(repr=False)  # signs deliveries; shown to the creator once


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook delivery, as the history lists it."""

    id: int
    webhook_id: int
    webhook_name: str
    event: str
    status: str  # pending | succeeded | failed
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    payload: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def tag(self) -> str | None:
        push = self.payload.get("push_data")
        return push.get("tag") if isinstance(push, dict) else None
