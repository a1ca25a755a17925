"""Background work as a list of tasks, each run under one supervisor.

    BackgroundTask(name, role, run, stop)   ``run`` loops until cancelled; ``stop`` (optional) runs
                                            once after it, shielded: a flush of what is buffered
    supervise(task, clock)                  runs ``task.run``; an exception is logged with its
                                            traceback, then the task starts again after a back-off
                                            (1 s, doubling, at most a minute; reset after a good run)
    periodic(interval, step, clock)         a ``run`` made of one step every ``interval`` seconds

Roles say which process does what: ``dockyard serve`` runs the roles in DOCKYARD_BACKGROUND (all by
default), ``dockyard worker --role ...`` the ones it is given, so web replicas can share one set of
workers. A task without a role belongs to each web process (it flushes what that process buffered)
and never runs in a worker.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass

import anyio

from dockyard.clock import Clock

log = logging.getLogger(__name__)

# Every role a process may take on; the composition root (dockyard/services.py) says which tasks
# belong to which. Add a role here and there.
ROLES = ("events", "builds", "webhooks", "janitor")
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0

Run = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class BackgroundTask:
    name: str
    role: str | None  # None: every web process runs it (not a role a worker takes)
    run: Run
    stop: Run | None = None


class UnknownRole(ValueError):
    pass


def parse_roles(value: str | Iterable[str]) -> frozenset[str]:
    """``"all"``, ``"none"`` or a comma-separated list of roles, each one of ``ROLES``."""
    items = [value] if isinstance(value, str) else list(value)
    names = {part.strip() for item in items for part in item.split(",") if part.strip()}
    if names == {"all"}:
        return frozenset(ROLES)
    if names <= {"none"}:
        return frozenset()
    unknown = sorted(names - set(ROLES))
    if unknown:
        raise UnknownRole(f"unknown role {', '.join(unknown)}: use all, none or some of {', '.join(ROLES)}")
    return frozenset(names)


def select(tasks: Iterable[BackgroundTask], roles: Collection[str], *, web: bool) -> list[BackgroundTask]:
    """The tasks of ``roles``, and the web process's own when ``web``."""
    return [task for task in tasks if (task.role is None and web) or task.role in roles]


async def supervise(task: BackgroundTask, clock: Clock) -> None:
    """Run ``task`` until cancelled: log every failure with its traceback, back off, start again."""
    delay = BACKOFF_FIRST
    while True:
        started = clock.monotonic()
        try:
            await task.run()
        except Exception:
            log.exception("background task %s failed; restarting in %.0f s", task.name, delay)
        else:
            log.error("background task %s returned; restarting in %.0f s", task.name, delay)
        if clock.monotonic() - started > BACKOFF_MAX:  # it ran well for a while: a fresh failure
            delay = BACKOFF_FIRST
        await clock.sleep(delay)
        delay = min(BACKOFF_MAX, delay * 2)


@contextlib.asynccontextmanager
async def running(tasks: Iterable[BackgroundTask], clock: Clock) -> AsyncIterator[None]:
    """Supervise every task while the block runs; on leaving, cancel them, then run each ``stop``
    (shielded, in order), so what a task buffered is written before the database goes away."""
    tasks = list(tasks)
    try:
        async with anyio.create_task_group() as group:
            for task in tasks:
                group.start_soon(supervise, task, clock, name=f"background:{task.name}")
            try:
                yield
            finally:
                group.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            for task in tasks:
                if task.stop is not None:
                    await _stop(task, task.stop)


async def _stop(task: BackgroundTask, stop: Run) -> None:
    try:
        await stop()
    except Exception:
        log.exception("background task %s could not finish its work on shutdown", task.name)


def periodic(interval: float, step: Run, clock: Clock, *, wait_first: bool = False) -> Run:
    """A loop running ``step`` every ``interval`` seconds; a failing step fails the loop, so the
    supervisor logs it and starts again."""

    async def loop() -> None:
        if wait_first:
            await clock.sleep(interval)
        while True:
            await step()
            await clock.sleep(interval)

    return loop
