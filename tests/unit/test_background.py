"""The background supervisor: a task that raises is logged with its traceback and started again
after a back-off that doubles; roles select the tasks; a stop hook runs once the tasks are cancelled."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import anyio
import pytest

from dockyard.background import (
    BACKOFF_FIRST,
    BACKOFF_MAX,
    ROLES,
    BackgroundTask,
    UnknownRole,
    parse_roles,
    running,
    select,
    supervise,
)

pytestmark = pytest.mark.anyio


class FakeClock:
    """Sleeps return at once and only move the clock; ``sleeps`` records what was asked."""

    def __init__(self) -> None:
        self.time = 0.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time, UTC)

    def monotonic(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds
        await anyio.lowlevel.checkpoint()


class Flaky:
    """Fails ``failures`` times, then runs until cancelled."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.healthy = anyio.Event()

    async def __call__(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"boom {self.calls}")
        self.healthy.set()
        await anyio.sleep_forever()


async def test_a_failing_task_is_logged_with_its_traceback_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, flaky = FakeClock(), Flaky(failures=3)
    task = BackgroundTask("flaky", "janitor", flaky)
    with caplog.at_level(logging.ERROR, logger="dockyard.background"):
        async with anyio.create_task_group() as group:
            group.start_soon(supervise, task, clock)
            with anyio.fail_after(5):
                await flaky.healthy.wait()
            group.cancel_scope.cancel()
    assert flaky.calls == 4
    assert clock.sleeps == [BACKOFF_FIRST, 2 * BACKOFF_FIRST, 4 * BACKOFF_FIRST]
    failures = [r for r in caplog.records if "background task flaky failed" in r.getMessage()]
    assert len(failures) == 3
    assert all(r.exc_info is not None and r.exc_info[0] is RuntimeError for r in failures)
    assert "boom 3" in caplog.text and "Traceback" in caplog.text


async def test_the_back_off_is_capped_and_a_returning_task_is_restarted_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, calls = FakeClock(), []

    async def returns() -> None:
        calls.append(clock.time)
        if len(calls) == 12:
            await anyio.sleep_forever()

    with caplog.at_level(logging.ERROR, logger="dockyard.background"):
        async with anyio.create_task_group() as group:
            group.start_soon(supervise, BackgroundTask("short", None, returns), clock)
            with anyio.fail_after(5):
                while len(calls) < 12:
                    await anyio.sleep(0.001)
            group.cancel_scope.cancel()
    assert max(clock.sleeps) == BACKOFF_MAX and clock.sleeps[-1] == BACKOFF_MAX
    assert "background task short returned" in caplog.text


async def test_stop_hooks_run_after_the_tasks_are_cancelled() -> None:
    clock, events = FakeClock(), []

    async def forever() -> None:
        events.append("started")
        await anyio.sleep_forever()

    async def flush() -> None:
        await anyio.sleep(0)  # shielded: it may await even though the scope was cancelled
        events.append("flushed")

    async with running([BackgroundTask("buffer", None, forever, stop=flush)], clock):
        await anyio.sleep(0.01)
    assert events == ["started", "flushed"]


def test_roles_select_the_tasks_and_web_tasks_only_in_web_processes() -> None:
    async def nothing() -> None:
        return None

    tasks = [BackgroundTask(role or "web", role, nothing) for role in (*ROLES, None)]
    assert [t.name for t in select(tasks, parse_roles("webhooks"), web=False)] == ["webhooks"]
    assert [t.name for t in select(tasks, parse_roles("none"), web=True)] == ["web"]
    assert {t.name for t in select(tasks, parse_roles("all"), web=True)} == {*ROLES, "web"}
    assert parse_roles("janitor, builds") == {"janitor", "builds"}
    with pytest.raises(UnknownRole, match="unknown role cooking"):
        parse_roles("builds,cooking")
