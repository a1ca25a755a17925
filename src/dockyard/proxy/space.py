"""Space of proxy namespaces: usage, and least-recently-pulled eviction under a size limit.

    usage      the distinct blobs the namespace's repositories link (the quotas' count,
               registry/quotas.py)
    enforce    while usage is over the limit: the cached manifest pulled longest ago goes
               (``evict_cached``: its tags, and the blob links no manifest left in its repository
               uses), then usage is read again; manifests pulled within ``GRACE`` stay, since a
               client may be fetching their blobs right now
    when       after every blob a download links, and in the janitor's round

Eviction only unlinks: the bytes go at the garbage collector's next run, like any unlinked
blob's, so a blob another repository still links is never lost. A blob larger than the limit is
never downloaded (flight.py's cap), so one pull cannot fill the namespace by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from dockyard.proxy.records import ProxyConfig
from dockyard.proxy.store import ProxyStore
from dockyard.registry.quotas import Quotas
from dockyard.registry.store import MetadataStore

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=10)
BATCH = 50


class CacheSpace:
    def __init__(self, rows: ProxyStore, store: MetadataStore, now: Callable[[], datetime]) -> None:
        self.rows = rows
        self.store = store
        self.quotas = Quotas(store)
        self.now = now

    async def usage(self, namespace: str) -> int:
        return (await self.quotas.get(namespace)).used

    async def enforce(self, config: ProxyConfig) -> int:
        """Evict until the namespace fits its limit (or nothing old enough is left); how many
        manifests went."""
        limit = config.size_limit_bytes
        if limit is None:
            return 0
        evicted = 0
        used = await self.usage(config.namespace)
        while used > limit:
            oldest = await self.rows.least_recent(config.namespace, self.now() - GRACE, BATCH)
            if not oldest:
                log.warning("proxy %s: %d bytes cached, over its limit of %d", config.namespace, used, limit)
                break
            for repository, digest in oldest:
                if await self.store.evict_cached(repository, digest):
                    evicted += 1
                await self.rows.forget_pull(repository, digest)
                used = await self.usage(config.namespace)
                if used <= limit:
                    break
        if evicted:
            log.info("proxy %s: evicted %d manifests, %d bytes cached now", config.namespace, evicted, used)
        return evicted
