"""Proxy namespaces as the administrator manages them (the CLI, the JSON API, /admin/proxies):
checked input, then one row each. The pulls themselves go through ``cache.PullThroughCache``,
which this process's changes reach at once (other processes': within CONFIG_SECONDS)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from dockyard.proxy.cache import PullThroughCache
from dockyard.proxy.records import (
    DEFAULT_TTL_SECONDS,
    Credentials,
    ProxyConfig,
    ProxyError,
    check_namespace,
    check_upstream_url,
)
from dockyard.proxy.store import ProxyStore

MAX_TTL_SECONDS = 365 * 24 * 3600


class ProxyService:
    def __init__(self, rows: ProxyStore, cache: PullThroughCache) -> None:
        self.rows = rows
        self.cache = cache

    async def add(
        self,
        namespace: str,
        upstream_url: str,
        *,
        credentials: Credentials | None = None,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        private: bool = False,
        mirror: bool = False,
        size_limit: int | None = None,
    ) -> ProxyConfig:
        _check_limit(size_limit)
        if not 0 <= ttl_seconds <= MAX_TTL_SECONDS:
            raise ProxyError(f"the TTL must be between 0 and {MAX_TTL_SECONDS} seconds")
        if mirror and private:
            raise ProxyError(
                "the instance mirror answers every pull of a name Dockyard does not hold: not private"
            )
        if credentials is not None and not (credentials.username and credentials.password):
            raise ProxyError("upstream credentials need both a username and a password")
        added = await self.rows.add(
            check_namespace(namespace),
            check_upstream_url(upstream_url),
            credentials,
            ttl_seconds,
            private,
            mirror,
            size_limit,
        )
        self.cache.forget_config()  # a pull right after this answers from the new proxy
        return added

    async def remove(self, namespace: str) -> int:
        left = await self.rows.remove(namespace)
        self.cache.forget_config()
        return left

    async def set_limit(self, namespace: str, size_limit: int | None) -> ProxyConfig:
        """Set (None: remove) the namespace's size limit; a lower one evicts at once."""
        _check_limit(size_limit)
        await self.rows.set_limit(namespace, size_limit)
        self.cache.forget_config()
        config = await self.rows.get(namespace)
        assert config is not None
        await self.cache.space.enforce(config)
        return config

    async def spared(self, now: datetime) -> set[int]:
        """The collector's ``spare`` for proxy namespaces: every cached manifest (see
        ProxyStore.cached_manifests); ``now`` is the collector's, unused."""
        return await self.rows.cached_manifests()

    async def list(self, *, usage: bool = False) -> list[ProxyConfig]:
        """Every proxy namespace; with ``usage``, each with the bytes it has cached."""
        found = await self.rows.list()
        if not usage:
            return found
        return [dataclasses.replace(c, usage_bytes=await self.cache.space.usage(c.namespace)) for c in found]


def _check_limit(size_limit: int | None) -> None:
    if size_limit is not None and size_limit <= 0:
        raise ProxyError("a size limit is a positive number of bytes (or none)")
