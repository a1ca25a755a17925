"""What the registry asks of a pull-through cache, without knowing about upstreams.

The proxy package implements it (``proxy.cache.PullThroughCache``); the composition root hands
one to the ``Registry``. The registry calls it at one place each: a manifest GET/HEAD in a
proxied repository (tags may need a fresh look upstream even when cached), a blob GET/HEAD that
misses, and every write, which a proxied repository refuses. With an instance mirror, a pull of
a repository the registry does not hold goes to the mirror's proxied repository instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from dockyard.digests import Digest
from dockyard.registry.records import StoredManifest


@dataclass(frozen=True, slots=True)
class BlobStream:
    """A blob on its way from upstream: its size when known, and its bytes (None for a HEAD)."""

    size: int | None
    chunks: AsyncIterator[bytes] | None


class PullThrough(Protocol):
    async def proxies(self, repository: str) -> bool:
        """Whether the repository is in a proxy namespace: fetched on a miss, read-only."""

    async def mirror_for(self, repository: str) -> str | None:
        """Where the instance mirror caches a repository this registry does not hold (a proxied
        repository's name), or None when there is no mirror."""

    async def manifest(
        self, repository: str, reference: str, cached: StoredManifest | None
    ) -> StoredManifest:
        """The manifest to serve (the cached one, or what the upstream has now, then cached);
        RegistryError when there is none."""

    async def blob(self, repository: str, digest: Digest, *, head: bool) -> BlobStream | None:
        """A blob the repository does not link yet: streaming from upstream, or None when it is
        now linked (another repository had the bytes and the upstream has the blob)."""
