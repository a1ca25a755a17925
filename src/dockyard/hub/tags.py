"""The Tags page's data: each tag with its digest, platform images, compressed sizes and activity.

Sizes are compressed sizes as the manifests list them: config plus layers of an image; an index
is the sum of its platform images. Platforms come from an index's descriptors; a single image's
platform is in its config blob, which ``TagQueries`` cannot read (it is storage, not metadata),
so it hands back the config's digest and the service reads it (``ImageRow.config_digest``).

The tags, manifests and sizes are the registry's (``registry/readmodels.py``: the page is ordered
and cut in SQL there); pushers, creators and last pulls are the hub's own activity tables, read
for the page's tags and images only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from dockyard.db.engine import Database, offload
from dockyard.db.keyset import Cursors
from dockyard.hub.records import ImageInfo, TagInfo, TagOrdering
from dockyard.hub.tables import aware, manifest_activity, tag_activity
from dockyard.registry import readmodels
from dockyard.registry.manifests import INDEX_TYPES

HIDDEN_OS = "unknown"  # buildx attestation manifests: unknown/unknown, not a platform


@dataclass(frozen=True, slots=True)
class ImageRow:
    image: ImageInfo
    config_digest: str | None = None  # set when the platform is still to be read from the config


@dataclass(frozen=True, slots=True)
class TagRow:
    tag: TagInfo
    images: list[ImageRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TagRows:
    rows: list[TagRow]
    count: int
    cursors: Cursors


def _latest(*values: datetime | None) -> datetime | None:
    present = [aware(v) for v in values if v is not None]
    return max(present) if present else None  # type: ignore[type-var]


class TagQueries:
    def __init__(self, database: Database) -> None:
        self.db = database

    @offload
    def page(
        self,
        repository: str,
        *,
        ordering: TagOrdering,
        contains: str,
        exact: str | None,
        cursor: str | None = None,
        offset: int = 0,
        limit: int,
    ) -> TagRows | None:
        """None when the repository does not exist; ``InvalidCursor`` for a cursor that is not
        one of this ordering's."""
        with self.db.read.connect() as conn:
            repo_id = readmodels.repository_id(conn, repository)
            if repo_id is None:
                return None
            found = readmodels.tag_page(
                conn,
                repo_id,
                ordering,
                contains=contains,
                exact=exact,
                cursor=cursor,
                offset=offset,
                limit=limit,
            )
            activity = _tag_activity(conn, repo_id, [t.name for t in found.tags])
            chosen = [_tag_info(t, activity.get(t.name)) for t in found.tags]
            rows = self._with_images(conn, repo_id, chosen)
        return TagRows(rows, found.count, found.cursors)

    def _with_images(self, conn: Connection, repo_id: int, chosen: list[TagInfo]) -> list[TagRow]:
        children: dict[str, list[readmodels.ChildDescriptor]] = {}
        for child in readmodels.index_children(conn, repo_id, [t.digest for t in chosen if t.is_index]):
            children.setdefault(child.parent, []).append(child)
        wanted = {t.digest for t in chosen if not t.is_index}
        wanted |= {c.digest for kids in children.values() for c in kids}
        images = _images(conn, repo_id, wanted)
        rows = []
        for tag in chosen:
            if tag.is_index:
                image_rows = [
                    _child_row(child, images.get(child.digest))
                    for child in children.get(tag.digest, [])
                    if child.os != HIDDEN_OS
                ]
            else:
                own = images.get(tag.digest)
                image_rows = [own] if own is not None else []
            size = sum(r.image.size for r in image_rows)
            rows.append(TagRow(replace(tag, size=size), image_rows))
        return rows


def _tag_activity(conn: Connection, repo_id: int, names: Collection[str]) -> dict[str, Any]:
    if not names:
        return {}
    query = select(
        tag_activity.c.tag, tag_activity.c.pusher, tag_activity.c.creator, tag_activity.c.last_pulled_at
    )
    query = query.where(tag_activity.c.repository_id == repo_id, tag_activity.c.tag.in_(list(names)))
    return {row.tag: row for row in conn.execute(query).all()}


def _images(conn: Connection, repo_id: int, digests: set[str]) -> dict[str, ImageRow]:
    """Each image manifest's size (its blobs), config digest, and activity, by digest."""
    manifests = readmodels.images(conn, repo_id, digests)
    if not manifests:
        return {}
    query = select(
        manifest_activity.c.digest, manifest_activity.c.last_pushed_at, manifest_activity.c.last_pulled_at
    )
    query = query.where(
        manifest_activity.c.repository_id == repo_id, manifest_activity.c.digest.in_(list(manifests))
    )
    activity = {row.digest: row for row in conn.execute(query).all()}
    result = {}
    for digest, found in manifests.items():
        seen = activity.get(digest)
        image = ImageInfo(
            digest=digest,
            media_type=found.media_type,
            os=None,
            architecture=None,
            variant=None,
            size=found.size,
            last_pushed_at=_latest(seen.last_pushed_at if seen else None, found.created_at),
            last_pulled_at=aware(seen.last_pulled_at) if seen else None,
        )
        result[digest] = ImageRow(image, found.config_digest)
    return result


def _tag_info(tag: readmodels.TagRecord, activity: Any) -> TagInfo:
    return TagInfo(
        id=tag.id,
        name=tag.name,
        digest=tag.digest,
        media_type=tag.media_type,
        is_index=tag.media_type in INDEX_TYPES,
        images=(),
        size=0,
        last_pushed_at=tag.updated_at,
        pusher=activity.pusher if activity is not None else None,
        # The tag's own: pulls by tag. A pull by digest is the image's (ImageInfo.last_pulled_at).
        last_pulled_at=aware(activity.last_pulled_at) if activity is not None else None,
        creator=activity.creator if activity is not None else None,
    )


def _child_row(child: readmodels.ChildDescriptor, found: ImageRow | None) -> ImageRow:
    """A platform of an index: the platform from the index, size and activity from the image."""
    if found is None:  # not pushed here (a sparse index): what the index says
        image = ImageInfo(child.digest, child.media_type, None, None, None, 0, None, None)
    else:
        image = found.image
    if child.os is None:  # an index without platforms: the image's config knows
        return ImageRow(image, found.config_digest if found is not None else None)
    image = replace(image, os=child.os, architecture=child.architecture, variant=child.variant)
    return ImageRow(image, None)
