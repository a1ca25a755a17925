"""The registry on a full disk: reads go on, deletes get through, writes are refused clearly.

    pull, HEAD, tags, catalog      served as always (reading needs no room)
    push (upload, manifest PUT)    503 UNAVAILABLE naming the cause, nothing half-made left behind
    delete                         done: on a full disk the reserve (``storage/space.py``) is
                                   released to give the database room, and the delete retried

Writes begin only while the reserve is in place, remaking it first if a delete used it, so
what a delete freed stays for deletes. 503 with Docker's UNAVAILABLE code is what distribution
answers when its backend cannot serve; docker and containers/image print the message
(``unavailable: ...``) and treat it as worth retrying later, which is what an operator who frees
the disk wants.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio.to_thread

from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.storage import StorageFull
from dockyard.storage.space import Reserve, is_disk_full

T = TypeVar("T")

FULL_MESSAGE = "insufficient storage: the registry's disk is full"


def storage_full(cause: str = "disk full") -> RegistryError:
    return RegistryError(
        ErrorCode.UNAVAILABLE,
        {"reason": cause},
        message=f"{FULL_MESSAGE}; pulls and deletes still work",
    )


class DiskRoom:
    """Decides whether a write may start, and lets deletes through on a full disk."""

    def __init__(self, reserve: Reserve | None = None) -> None:
        self.reserve = reserve

    async def check_writable(self) -> None:
        """Raise StorageFull unless the reserve is in place (remade here if it was used)."""
        reserve = self.reserve
        if reserve is None or reserve.present():
            return
        if not await anyio.to_thread.run_sync(reserve.ensure):
            raise StorageFull(f"the {reserve.size}-byte reserve kept for deletes ({reserve.path.name})")

    async def deleting(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run a delete; if the disk is full, release the reserve and run it once more."""
        try:
            return await operation()
        except Exception as exc:
            if not is_disk_full(exc):
                raise
        released = self.reserve is not None and await anyio.to_thread.run_sync(self.reserve.release)
        if not released:
            raise storage_full("disk full, and the reserve kept for deletes is already used")
        try:
            return await operation()
        except Exception as exc:
            if is_disk_full(exc):
                raise storage_full("disk full, even after releasing the reserve kept for deletes") from exc
            raise
