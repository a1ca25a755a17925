"""The pull-through cache: what the registry calls on a miss in a proxy namespace.

    manifest by digest   cached: served, the upstream never asked; else fetched, checked, cached
    manifest by tag      cached and checked within the TTL: served; else a HEAD upstream: the
                         same digest renews the check, another one (or none) fetches the new
                         manifest; an upstream that is unreachable or answers 5xx/429 leaves
                         the cached tag served
    blob                 another repository holds the bytes and the upstream has the blob
                         (HEAD): linked; else one download (flight.py) streams to every client

A manifest is cached only under the digest of its bytes, and only if that is the digest asked
for (by digest) or the one the upstream announced (by tag). A blob is cached only when its
bytes hash to its digest. Bytes already stored for another repository are linked only after the
upstream confirms it has the blob, so a proxy namespace never hands out a private repository's
layers to whoever guesses their digest.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from dockyard.digests import Digest
from dockyard.guarded_http import GuardedTransport
from dockyard.metrics import Metrics
from dockyard.proxy.flight import BlobTooLarge, FetchFailed, Flight, Flights
from dockyard.proxy.records import ProxyConfig, UpstreamManifest
from dockyard.proxy.space import CacheSpace
from dockyard.proxy.store import ProxyStore
from dockyard.proxy.upstream import (
    RateLimitHook,
    Upstream,
    UpstreamError,
    UpstreamMissing,
    UpstreamUnavailable,
)
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.ledger import BlobLedger
from dockyard.registry.manifests import parse_manifest
from dockyard.registry.pullthrough import BlobStream
from dockyard.registry.records import StoredManifest
from dockyard.registry.reference import is_digest, parse_digest
from dockyard.registry.store import MetadataStore
from dockyard.storage import PathNotFound, StorageDriver, paths

log = logging.getLogger(__name__)

# How long a process trusts its copy of the proxy table: changes made in another process (the CLI,
# another worker) apply within this; the ProxyService of this process forgets the copy at once.
CONFIG_SECONDS = 5.0
ALLOW_PRIVATE_SETTING = "DOCKYARD_PROXY_ALLOW_PRIVATE"


class PullThroughCache:
    def __init__(
        self,
        rows: ProxyStore,
        store: MetadataStore,
        storage: StorageDriver,
        *,
        spool: Path,
        allow_private: bool,
        timeout: float,
        max_manifest_bytes: int,
        now: Callable[[], datetime] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics  # the upstreams' rate limits, a gauge per proxy namespace
        self.rows = rows
        self.store = store
        self.storage = storage
        self.ledger = BlobLedger(store)  # the collector's protocol for new bytes (registry/ledger.py)
        self.flights = Flights(storage, spool, self.ledger)
        self.allow_private = allow_private
        self.timeout = timeout
        self.max_manifest_bytes = max_manifest_bytes
        self.now = now or (lambda: datetime.now(UTC))
        self.space = CacheSpace(rows, store, lambda: self.now())
        self._configs: dict[str, ProxyConfig] = {}
        self._loaded = -math.inf
        self._upstreams: dict[int, Upstream] = {}
        self._client: httpx.AsyncClient | None = None
        self._fetching: dict[tuple[str, str], asyncio.Task[StoredManifest]] = {}

    # -- which repositories --------------------------------------------------------------

    async def _config(self, repository: str) -> ProxyConfig | None:
        if time.monotonic() - self._loaded >= CONFIG_SECONDS:
            self._configs = {c.namespace: c for c in await self.rows.list()}
            self._loaded = time.monotonic()
        namespace, slash, _ = repository.partition("/")
        return self._configs.get(namespace) if slash else None

    def forget_config(self) -> None:
        """Read the proxy table again at the next pull (it was just changed in this process)."""
        self._loaded = -math.inf

    async def proxies(self, repository: str) -> bool:
        return await self._config(repository) is not None

    async def mirror_for(self, repository: str) -> str | None:
        """Where the instance mirror caches ``repository`` (a name outside every proxy namespace),
        or None without a mirror."""
        if await self._config(repository) is not None:
            return None
        mirror = next((c for c in self._configs.values() if c.is_mirror), None)
        return None if mirror is None else f"{mirror.namespace}/{repository}"

    async def _upstream(self, config: ProxyConfig) -> Upstream:
        found = self._upstreams.get(config.id)
        if found is None:
            if self._client is None:
                transport = GuardedTransport(allow_private=self.allow_private, setting=ALLOW_PRIVATE_SETTING)
                self._client = httpx.AsyncClient(transport=transport, timeout=self.timeout)
            credentials = await self.rows.credentials(config.namespace) if config.has_credentials else None
            found = Upstream(
                config.upstream_url,
                credentials,
                self._client,
                max_manifest_bytes=self.max_manifest_bytes,
                on_rate_limit=self._rate_limit_hook(config.namespace),
            )
            self._upstreams[config.id] = found
        return found

    def _rate_limit_hook(self, namespace: str) -> RateLimitHook | None:
        metrics = self.metrics
        if metrics is None:
            return None
        return lambda remaining, limit: metrics.upstream_rate_limit(namespace, remaining, limit)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    # -- manifests -----------------------------------------------------------------------

    async def manifest(
        self, repository: str, reference: str, cached: StoredManifest | None
    ) -> StoredManifest:
        config = await self._config(repository)
        assert config is not None
        if is_digest(reference) and cached is not None:
            await self.rows.served(config.namespace, repository, cached.digest, hit=True, at=self.now())
            return cached
        upstream = await self._upstream(config)
        path = repository.partition("/")[2]
        if is_digest(reference):
            return await self._fetch(config, upstream, repository, path, reference, None)
        if cached is not None and await self._still_current(
            config, upstream, repository, path, reference, cached
        ):
            await self.rows.served(config.namespace, repository, cached.digest, hit=True, at=self.now())
            return cached
        return await self._fetch(config, upstream, repository, path, reference, cached)

    async def _still_current(
        self,
        config: ProxyConfig,
        upstream: Upstream,
        repository: str,
        path: str,
        tag: str,
        cached: StoredManifest,
    ) -> bool:
        """Whether the cached tag may be served: checked within the TTL, the same digest upstream
        now, or an upstream that cannot say (down, 5xx, 429)."""
        checked = await self.rows.tag_checked(repository, tag)
        fresh = self.now() - timedelta(seconds=config.ttl_seconds)
        if checked is not None and checked[0] == cached.digest and checked[1] > fresh:
            return True
        try:
            digest = await upstream.manifest_digest(path, tag)
        except UpstreamUnavailable as exc:
            log.warning(
                "proxy %s: serving cached %s:%s, upstream unavailable: %s",
                config.namespace,
                repository,
                tag,
                exc,
            )
            return True
        except UpstreamError as exc:
            raise _manifest_error(exc, tag) from None
        if digest == cached.digest:
            await self.rows.record_check(config.namespace, repository, tag, digest)
            return True
        return False

    async def _fetch(
        self,
        config: ProxyConfig,
        upstream: Upstream,
        repository: str,
        path: str,
        reference: str,
        cached: StoredManifest | None,
    ) -> StoredManifest:
        """One upstream GET per manifest at a time in this process, however many pulls ask for it
        (a team's machines pulling one new tag together); a pull that goes away does not cancel it."""
        key = (repository, reference)
        task = self._fetching.get(key)
        if task is None:
            task = asyncio.create_task(
                self._fetch_once(config, upstream, repository, path, reference, cached)
            )
            self._fetching[key] = task
            task.add_done_callback(lambda _: self._fetching.pop(key, None))
        return await asyncio.shield(task)

    async def _fetch_once(
        self,
        config: ProxyConfig,
        upstream: Upstream,
        repository: str,
        path: str,
        reference: str,
        cached: StoredManifest | None,
    ) -> StoredManifest:
        try:
            fetched = await upstream.manifest(path, reference)
        except UpstreamUnavailable as exc:
            if cached is not None:
                log.warning(
                    "proxy %s: serving cached %s:%s: %s", config.namespace, repository, reference, exc
                )
                return cached
            raise _manifest_error(exc, reference) from None
        except UpstreamError as exc:
            raise _manifest_error(exc, reference) from None
        digest = _verified(fetched, reference)
        parsed = parse_manifest(fetched.content, fetched.media_type or None)
        tags = [] if is_digest(reference) else [reference]
        await self.store.cache_manifest(repository, digest, fetched.content, parsed, tags)
        if tags:
            await self.rows.record_check(config.namespace, repository, reference, digest)
        await self.rows.served(config.namespace, repository, digest, hit=False, at=self.now())
        return StoredManifest(digest, parsed.media_type, fetched.content)

    # -- blobs -------------------------------------------------------------------------------

    async def blob(self, repository: str, digest: Digest, *, head: bool) -> BlobStream | None:
        config = await self._config(repository)
        assert config is not None
        upstream = await self._upstream(config)
        path = repository.partition("/")[2]
        if head or not self.flights.running(config.namespace, digest):
            stored = await self._stored_size(digest)
            if head or stored is not None:
                size = await _upstream_size(upstream, path, digest)  # the upstream must have it
                if stored is None:
                    return BlobStream(size, None)
                if await self._link_stored(repository, digest, stored):
                    return None
        try:
            flight, reader = await self.flights.join(
                config.namespace,
                digest,
                repository,
                lambda: upstream.blob(path, str(digest)),
                self._link,
                config.size_limit_bytes,
            )
        except UpstreamError as exc:
            raise _blob_error(exc, digest) from None
        except BlobTooLarge as exc:
            raise RegistryError(ErrorCode.DENIED, {"digest": str(digest)}, message=str(exc)) from None
        except FetchFailed as exc:
            raise RegistryError(ErrorCode.UNAVAILABLE, {"digest": str(digest)}, message=str(exc)) from None
        await self.rows.count(config.namespace, hit=False)
        return BlobStream(flight.size, self.flights.follow(flight, reader))

    async def _stored_size(self, digest: Digest) -> int | None:
        try:
            return (await self.storage.stat(paths.blob_data(digest))).size
        except PathNotFound:
            return None

    async def _link_stored(self, repository: str, digest: Digest, size: int) -> bool:
        """Link bytes another repository brought in, claimed first so that no collector deletes
        them under the link; False when one deleted them before the claim (fetch them again)."""
        await self.ledger.claim(str(digest), size)
        if await self._stored_size(digest) is None:
            return False
        await self.ledger.link_claimed(repository, str(digest), size, None)
        return True

    async def _link(self, flight: Flight) -> None:
        for repository in sorted(flight.repositories):
            await self.ledger.link_claimed(repository, str(flight.digest), flight.written, None)
        config = await self._config(min(flight.repositories))
        if config is not None and config.size_limit_bytes is not None:
            try:
                await self.space.enforce(config)
            except Exception:  # the blob is cached and linked: its pull goes on; the janitor retries
                log.exception("proxy %s: eviction failed", config.namespace)

    async def janitor(self) -> None:
        """The janitor's round: spools a killed process left behind go, and every namespace over
        its size limit evicts (after a limit was lowered, or when a link raced an eviction)."""
        await self.flights.sweep()
        for config in await self.rows.list():
            await self.space.enforce(config)


def _verified(fetched: UpstreamManifest, reference: str) -> str:
    """The manifest's digest, computed from its bytes; refused unless it is the one asked for or
    the one the upstream announced."""
    expected = reference if is_digest(reference) else fetched.digest
    algorithm = parse_digest(expected).algorithm if expected else "sha256"
    computed = str(Digest.of(fetched.content, algorithm))
    if expected and computed != expected:
        raise RegistryError(
            ErrorCode.UNAVAILABLE,
            {"expected": expected, "computed": computed},
            message="the upstream's manifest does not match its digest; nothing was cached",
        )
    return computed


async def _upstream_size(upstream: Upstream, path: str, digest: Digest) -> int | None:
    try:
        return await upstream.blob_size(path, str(digest))
    except UpstreamError as exc:
        raise _blob_error(exc, digest) from None


def _manifest_error(exc: UpstreamError, reference: str) -> RegistryError:
    if isinstance(exc, UpstreamMissing):
        return RegistryError(ErrorCode.MANIFEST_UNKNOWN, {"reference": reference})
    return RegistryError(ErrorCode.UNAVAILABLE, {"reference": reference}, message=str(exc))


def _blob_error(exc: UpstreamError, digest: Digest) -> RegistryError:
    if isinstance(exc, UpstreamMissing):
        return RegistryError(ErrorCode.BLOB_UNKNOWN, {"digest": str(digest)})
    return RegistryError(ErrorCode.UNAVAILABLE, {"digest": str(digest)}, message=str(exc))
