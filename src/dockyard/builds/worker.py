"""The worker: claims builds from the queue and runs them, a few at a time.

Each running build has a heartbeat that renews its lease every third of the lease time and
notices a cancel asked for meanwhile; the build is also bounded by the per-build timeout. Log
lines are buffered and written a few times a second, so a page streaming the log sees them
arrive while the build runs.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from dockyard.builds.queue import BuildQueue, LeaseLost
from dockyard.builds.records import Job
from dockyard.builds.runner import Runner, secret_values
from dockyard.builds.runtime import Masker, RegistryGrant, StepFailed
from dockyard.config import BuildSettings

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.3
CANCEL_CHECK_SECONDS = 2.0
MAX_LOG_LINES = 50_000
MAX_LINE_CHARS = 4_000
Grants = Callable[[Job], Awaitable[RegistryGrant]]


class LogBuffer:
    def __init__(self, queue: BuildQueue, build_id: int, mask: Masker) -> None:
        self.queue, self.build_id, self.mask = queue, build_id, mask
        self.lines: list[str] = []
        self.written = 0

    def write(self, line: str) -> None:
        self.written += 1
        if self.written <= MAX_LOG_LINES:
            self.lines.append(self.mask(line.rstrip()[:MAX_LINE_CHARS]))
        elif self.written == MAX_LOG_LINES + 1:
            self.lines.append(f"(the log is cut here: more than {MAX_LOG_LINES} lines)")

    def note(self, line: str) -> None:
        """A line of Dockyard's own that is kept even past the cap (the outcome)."""
        self.lines.append(line)

    async def flush(self) -> None:
        lines, self.lines = self.lines, []
        try:
            # Shielded: the periodic flusher is cancelled when the build ends, maybe in the middle
            # of a write; the lines it took must still be stored, before the build's last line.
            with anyio.CancelScope(shield=True):
                await self.queue.append_log(self.build_id, lines)
        except Exception:  # a busy database: keep them for the next flush rather than lose them
            log.exception("could not store %d log lines of build %d yet", len(lines), self.build_id)
            self.lines[:0] = lines

    async def keep_flushing(self) -> None:
        while True:
            await anyio.sleep(FLUSH_SECONDS)
            await self.flush()


@dataclass
class Outcome:
    digest: str = ""
    error: str | None = None
    canceled: bool = False
    lost: bool = False


class BuildWorker:
    def __init__(self, settings: BuildSettings, queue: BuildQueue, runner: Runner, grants: Grants) -> None:
        self.settings = settings
        self.queue = queue
        self.runner = runner
        self.grants = grants
        self.name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"

    async def run(self) -> None:
        """Claim and run builds until cancelled."""
        slots = anyio.Semaphore(self.settings.concurrency)
        async with anyio.create_task_group() as tasks:
            while True:
                await slots.acquire()
                job = await self._next()
                if job is None:
                    slots.release()
                    await anyio.sleep(self.settings.poll_seconds)
                    continue
                tasks.start_soon(self._execute, job, slots)

    async def _next(self) -> Job | None:
        try:
            await self.queue.reap()
            return await self.queue.claim(self.name)
        except Exception:  # the database may be busy or away for a moment: try again later
            log.exception("build worker %s could not claim a build", self.name)
            return None

    async def _execute(self, job: Job, slots: anyio.Semaphore) -> None:
        buffer = LogBuffer(self.queue, job.build.id, Masker(secret_values(job)))
        try:
            async with anyio.create_task_group() as flusher:
                flusher.start_soon(buffer.keep_flushing)
                outcome = await self._attempt(job, buffer)
                flusher.cancel_scope.cancel()
            await self._finish(job, outcome, buffer)
        except anyio.get_cancelled_exc_class():  # shutting down: hand the build to another worker now
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                buffer.write("The worker is shutting down; the build goes back to the queue.")
                await buffer.flush()
                await self.queue.release(job.build.id, self.name)
            raise
        finally:
            slots.release()

    async def _attempt(self, job: Job, buffer: LogBuffer) -> Outcome:
        build, outcome = job.build, Outcome()
        buffer.write(f"Build {build.id} (attempt {build.attempts}) on worker {self.name}")

        async def advance(state: str) -> None:
            await self.queue.advance(build.id, self.name, state)  # type: ignore[arg-type]

        with anyio.move_on_after(self.settings.timeout_seconds) as deadline:
            async with anyio.create_task_group() as running:
                running.start_soon(self._heartbeat, job, outcome, running.cancel_scope)
                try:
                    grant = await self.grants(job)
                    buffer.mask.add(v for v in (grant.push,) if v)
                    outcome.digest = await self.runner.run(job, grant, buffer.write, advance)
                except StepFailed as exc:
                    outcome.error = buffer.mask(str(exc))  # shown with the build: masked like the log
                except LeaseLost:
                    outcome.lost = True
                except Exception as exc:
                    log.exception("build %d failed unexpectedly", build.id)
                    outcome.error = buffer.mask(f"internal error: {exc}")
                running.cancel_scope.cancel()
        if deadline.cancelled_caught:
            outcome.error = f"timed out after {self.settings.timeout_seconds} seconds"
        return outcome

    async def _heartbeat(self, job: Job, outcome: Outcome, build: anyio.CancelScope) -> None:
        # Renewing often also notices a cancel soon; a lease outlives two missed renewals.
        interval = min(self.settings.lease_seconds / 3, CANCEL_CHECK_SECONDS)
        while True:
            await anyio.sleep(interval)
            try:
                if await self.queue.renew(job.build.id, self.name):
                    outcome.canceled = True
                    build.cancel()
                    return
            except LeaseLost:
                outcome.lost = True
                build.cancel()
                return
            except Exception:  # a busy database: the lease has slack for a missed renewal or two
                log.exception("could not renew the lease of build %d", job.build.id)

    async def _finish(self, job: Job, outcome: Outcome, buffer: LogBuffer) -> None:
        build_id = job.build.id
        with anyio.CancelScope(shield=True):
            if outcome.lost:
                buffer.write("This worker lost the build's lease; another attempt takes over.")
                await buffer.flush()
                return
            if outcome.canceled:
                state, values, line = "canceled", {"error": "canceled"}, "Build canceled."
            elif outcome.error:
                state, values, line = "failed", {"error": outcome.error}, f"Build failed: {outcome.error}"
            else:
                state, values, line = "success", {"digest": outcome.digest}, f"Pushed {outcome.digest}"
            buffer.note(line)
            await buffer.flush()
            if buffer.lines:  # the database was busy: one more try before the build ends
                await anyio.sleep(FLUSH_SECONDS)
                await buffer.flush()
            try:
                await self.queue.advance(build_id, self.name, state, **values)  # type: ignore[arg-type]
            except LeaseLost:
                log.warning("build %d finished as %s after its lease was lost", build_id, state)
