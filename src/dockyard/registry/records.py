"""Typed records that cross the service boundary; ORM rows never leave the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None
    urls: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            data["artifactType"] = self.artifact_type
        if self.annotations:
            data["annotations"] = self.annotations
        return data


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    """What validation learned from a manifest's JSON."""

    media_type: str
    is_index: bool
    blobs: tuple[Descriptor, ...]  # config and layers that must be present
    children: tuple[Descriptor, ...]  # child manifests of an index
    subject: Descriptor | None
    artifact_type: str | None
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: str
    media_type: str
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True, slots=True)
class RepositoryIdentity:
    """One incarnation of a repository: a deleted and recreated one has another (SQLite may
    reuse the id of a deleted row, never together with its creation time)."""

    id: int
    created: str


@dataclass(frozen=True, slots=True)
class UploadStatus:
    id: str
    repository: str
    offset: int


@dataclass(frozen=True, slots=True)
class Page:
    items: list[str]
    last: str | None  # set when more items follow


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change, as its events record it: the account (None: anonymous or an open
    registry) and the client's address."""

    name: str | None = None
    ip: str | None = None


@dataclass(frozen=True, slots=True)
class ManifestPut:
    """A validated manifest PUT, as the store writes it."""

    repository: str
    digest: str
    content: bytes
    parsed: ParsedManifest
    tags: tuple[str, ...]
    actor: str | None
    ip: str | None


@dataclass(frozen=True, slots=True)
class RepositoryFacts:
    """What the hub API shows of a repository's content: its id, the media types of its manifests
    (Docker Hub's ``media_types``) and the bytes of the blobs it links (``storage_size``)."""

    id: int
    media_types: tuple[str, ...]
    storage_size: int
