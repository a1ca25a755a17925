"""The Tags page's data: each tag with its digest, platform images, compressed sizes and activity.

Sizes are compressed sizes as the manifests list them: config plus layers of an image; an index
is the sum of its platform images. Platforms come from an index's descriptors; a single image's
platform is in its config blob, which ``TagQueries`` cannot read (it is storage, not metadata),
so it hands back the config's digest and the service reads it (``ImageRow.config_digest``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

from dockyard.db.engine import Database, offload
from dockyard.hub.records import ImageInfo, TagInfo, TagOrdering
from dockyard.hub.tables import (
    aware,
    manifest_activity,
    manifests,
    references,
    repositories,
    tag_activity,
    tags,
    utc,
)
from dockyard.registry.manifests import INDEX_TYPES

CONFIG_TYPES = frozenset(
    {"application/vnd.docker.container.image.v1+json", "application/vnd.oci.image.config.v1+json"}
)
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


_TAG_QUERY = select(
    tags.c.id,
    tags.c.name,
    tags.c.updated_at,
    manifests.c.id.label("manifest_id"),
    manifests.c.digest,
    manifests.c.media_type,
    tag_activity.c.pusher,
    tag_activity.c.creator,
    tag_activity.c.last_pulled_at.label("tag_pulled"),
).select_from(
    tags.join(manifests, tags.c.manifest_id == manifests.c.id).outerjoin(
        tag_activity,
        and_(tag_activity.c.repository_id == tags.c.repository_id, tag_activity.c.tag == tags.c.name),
    )
)


def _latest(*values: datetime | None) -> datetime | None:
    present = [aware(v) for v in values if v is not None]
    return max(present) if present else None  # type: ignore[type-var]


def _sort_key(ordering: TagOrdering) -> tuple[Any, bool]:
    field_name = ordering.lstrip("-")
    reverse = ordering.startswith("-")
    if field_name == "name":
        return (lambda t: t.name), reverse
    return (lambda t: (t.last_pushed_at, t.name)), reverse


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
        offset: int,
        limit: int,
    ) -> TagRows | None:
        """None when the repository does not exist."""
        with self.db.read.connect() as conn:
            repo_id = conn.execute(
                select(repositories.c.id).where(repositories.c.name == repository)
            ).scalar_one_or_none()
            if repo_id is None:
                return None
            query = _TAG_QUERY.where(tags.c.repository_id == repo_id)
            if exact is not None:
                query = query.where(tags.c.name == exact)
            elif contains:
                query = query.where(tags.c.name.contains(contains, autoescape=True))
            found = [_tag_info(row) for row in conn.execute(query).all()]
            key, reverse = _sort_key(ordering)
            found.sort(key=key, reverse=reverse)
            chosen = found[offset : offset + limit]
            rows = self._with_images(conn, repo_id, chosen)
        return TagRows(rows, len(found))

    def _with_images(self, conn: Connection, repo_id: int, chosen: list[TagInfo]) -> list[TagRow]:
        index_digests = [t.digest for t in chosen if t.is_index]
        children = self._children(conn, repo_id, index_digests)
        wanted = {t.digest for t in chosen if not t.is_index}
        wanted |= {c["digest"] for kids in children.values() for c in kids}
        images = self._images(conn, repo_id, wanted)
        rows = []
        for tag in chosen:
            if tag.is_index:
                image_rows = [
                    _child_row(child, images.get(child["digest"]))
                    for child in children.get(tag.digest, [])
                    if child["os"] != HIDDEN_OS
                ]
            else:
                own = images.get(tag.digest)
                image_rows = [own] if own is not None else []
            size = sum(r.image.size for r in image_rows)
            rows.append(TagRow(replace(tag, size=size), image_rows))
        return rows

    @staticmethod
    def _children(conn: Connection, repo_id: int, digests: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        wanted = list(digests)
        if not wanted:
            return {}
        query = (
            select(
                manifests.c.digest.label("parent"),
                references.c.digest,
                references.c.media_type,
                references.c.platform_os.label("os"),
                references.c.platform_architecture.label("architecture"),
                references.c.platform_variant.label("variant"),
            )
            .select_from(references.join(manifests, references.c.manifest_id == manifests.c.id))
            .where(
                manifests.c.repository_id == repo_id,
                manifests.c.digest.in_(wanted),
                references.c.kind == "manifest",
            )
            .order_by(references.c.id)
        )
        result: dict[str, list[dict[str, Any]]] = {}
        for row in conn.execute(query).mappings():
            result.setdefault(row["parent"], []).append(dict(row))
        return result

    @staticmethod
    def _images(conn: Connection, repo_id: int, digests: set[str]) -> dict[str, ImageRow]:
        """Each image manifest's size (its blobs), config digest, and activity, by digest."""
        if not digests:
            return {}
        rows = conn.execute(
            select(
                manifests.c.id,
                manifests.c.digest,
                manifests.c.media_type,
                manifests.c.created_at,
                manifest_activity.c.last_pushed_at,
                manifest_activity.c.last_pulled_at,
            )
            .select_from(
                manifests.outerjoin(
                    manifest_activity,
                    and_(
                        manifest_activity.c.repository_id == manifests.c.repository_id,
                        manifest_activity.c.digest == manifests.c.digest,
                    ),
                )
            )
            .where(manifests.c.repository_id == repo_id, manifests.c.digest.in_(digests))
        ).all()
        ids = [row.id for row in rows]
        # Added up here, not with SQL's SUM: Python's integers cannot overflow, whatever sizes
        # manifests stored before sizes were checked against the blobs.
        sizes: dict[int, int] = {}
        for manifest_id, size in conn.execute(
            select(references.c.manifest_id, references.c.size).where(
                references.c.manifest_id.in_(ids), references.c.kind == "blob"
            )
        ).all():
            sizes[manifest_id] = sizes.get(manifest_id, 0) + int(size)
        configs = dict(
            conn.execute(
                select(references.c.manifest_id, references.c.digest).where(
                    references.c.manifest_id.in_(ids),
                    references.c.kind == "blob",
                    references.c.media_type.in_(CONFIG_TYPES),
                )
            ).all()
        )
        result = {}
        for row in rows:
            image = ImageInfo(
                digest=row.digest,
                media_type=row.media_type,
                os=None,
                architecture=None,
                variant=None,
                size=int(sizes.get(row.id) or 0),
                last_pushed_at=_latest(row.last_pushed_at, row.created_at),
                last_pulled_at=aware(row.last_pulled_at),
            )
            result[row.digest] = ImageRow(image, configs.get(row.id))
        return result


def _tag_info(row: Any) -> TagInfo:
    return TagInfo(
        id=row.id,
        name=row.name,
        digest=row.digest,
        media_type=row.media_type,
        is_index=row.media_type in INDEX_TYPES,
        images=(),
        size=0,
        last_pushed_at=utc(row.updated_at),
        pusher=row.pusher,
        # The tag's own: pulls by tag. A pull by digest is the image's (ImageInfo.last_pulled_at).
        last_pulled_at=aware(row.tag_pulled),
        creator=row.creator,
    )


def _child_row(child: dict[str, Any], found: ImageRow | None) -> ImageRow:
    """A platform of an index: the platform from the index, size and activity from the image."""
    if found is None:  # not pushed here (a sparse index): what the index says
        image = ImageInfo(child["digest"], child["media_type"], None, None, None, 0, None, None)
    else:
        image = found.image
    if child["os"] is None:  # an index without platforms: the image's config knows
        return ImageRow(image, found.config_digest if found is not None else None)
    image = replace(image, os=child["os"], architecture=child["architecture"], variant=child["variant"])
    return ImageRow(image, None)
