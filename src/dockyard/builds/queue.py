"""The persistent build queue: jobs are rows of ``builds``, claimed under a lease.

Claiming is one conditional UPDATE (``... WHERE id = :id AND state = 'queued'``): of any number
of workers, in any number of processes, exactly one sees a row count of 1. The claimant holds a
lease (``lease_owner``, ``lease_expires_at``) and renews it while the build runs; every state
change after that is conditional on still holding it, so a worker that lost its lease cannot
overwrite what happened since. A lease that runs out (a worker killed mid-build) is reaped: the
build is queued again while it has attempts left, else failed.

    queued --claim--> building --> pushing --> success
       ^                 |            |
       +---lease expired-+------------+-----> failed | canceled

Moves to building and to a finished state call ``events`` (when given: the hub's build webhooks)
in the same transaction, with the build as a mapping of its fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, and_, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from dockyard.builds.models import Build, BuildLink, BuildLogLine
from dockyard.builds.records import ACTIVE, Job, State
from dockyard.builds.rules import Variable
from dockyard.builds.secrets import SecretBox
from dockyard.builds.service import build_info
from dockyard.clock import Clock, SystemClock
from dockyard.db.engine import Database, offload

CANDIDATES = 8

BuildEvents = Callable[[Connection, Mapping[str, Any]], int]


class LeaseLost(Exception):
    """Another worker (or the reaper) took the build over; stop working on it."""


class BuildQueue:
    def __init__(
        self,
        database: Database,
        box: SecretBox,
        lease_seconds: int,
        max_attempts: int,
        events: BuildEvents | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.db = database
        self.clock = clock or SystemClock()  # leases run out on it: tests step it instead of waiting
        self.events = events
        self.box = box
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts

    @offload
    def claim(self, owner: str) -> Job | None:
        """The oldest queued build, now ours, or None when the queue is empty."""
        with Session(self.db.read) as session:
            candidates = session.scalars(
                select(Build.id).where(Build.state == "queued").order_by(Build.id).limit(CANDIDATES)
            ).all()
        for build_id in candidates:
            now = self.clock.now()
            with Session(self.db.write) as session, session.begin():
                claimed = _count(
                    session.execute(
                        update(Build)
                        .where(Build.id == build_id, Build.state == "queued")
                        .values(
                            state="building",
                            lease_owner=owner,
                            lease_expires_at=now + self.lease,
                            attempts=Build.attempts + 1,
                            started_at=now,
                            error=None,
                        )
                        .execution_options(synchronize_session=False)
                    )
                )
                if claimed != 1:
                    continue
                row = session.get(Build, build_id)
                link = session.get(BuildLink, row.link_id) if row else None
                if row is None or link is None:
                    continue
                self._emit(session, row)
                return Job(
                    build_info(row),
                    link.source_url,
                    self.box.open(link.credentials, {}),
                    row.build_cache,
                    tuple(Variable(**v) for v in self.box.open(row.variables, [])),
                    owner,
                    link.created_by,
                )
        return None

    @offload
    def renew(self, build_id: int, owner: str) -> bool:
        """Extend the lease; True when a cancel was asked for. Raises LeaseLost if it is gone."""
        with Session(self.db.write) as session, session.begin():
            held = _count(
                session.execute(
                    update(Build)
                    .where(*self._held(build_id, owner))
                    .values(lease_expires_at=self.clock.now() + self.lease)
                    .execution_options(synchronize_session=False)
                )
            )
            if held != 1:
                raise LeaseLost(f"build {build_id} is no longer leased to {owner}")
            return bool(session.scalar(select(Build.cancel_requested).where(Build.id == build_id)))

    @offload
    def advance(self, build_id: int, owner: str, state: State, **values: object) -> None:
        """Move a leased build to ``state``; a finished state ends the lease."""
        now = self.clock.now()
        stamps: dict[str, object] = {"pushing_at": now} if state == "pushing" else {}
        if state in ("success", "failed", "canceled"):
            stamps = {"finished_at": now, "lease_owner": None, "lease_expires_at": None}
        with Session(self.db.write) as session, session.begin():
            moved = _count(
                session.execute(
                    update(Build)
                    .where(*self._held(build_id, owner))
                    .values(state=state, **stamps, **values)
                    .execution_options(synchronize_session=False)
                )
            )
            if moved == 1 and "finished_at" in stamps:
                self._emit(session, session.get(Build, build_id))
        if moved != 1:
            raise LeaseLost(f"build {build_id} is no longer leased to {owner}")

    @offload
    def reap(self) -> int:
        """Requeue or fail builds whose lease ran out; how many were reaped."""
        now = self.clock.now()
        expired = and_(Build.state.in_(ACTIVE), Build.lease_expires_at < now)
        with Session(self.db.read) as session:  # the common case writes nothing, taking no lock
            if session.scalar(select(Build.id).where(expired).limit(1)) is None:
                return 0
        with Session(self.db.write) as session, session.begin():
            requeued = _count(
                session.execute(
                    update(Build)
                    .where(expired, Build.attempts < self.max_attempts, Build.cancel_requested.is_(False))
                    .values(
                        state="queued", lease_owner=None, lease_expires_at=None, error="worker lost; retried"
                    )
                    .execution_options(synchronize_session=False)
                )
            )
            failing = session.scalars(select(Build.id).where(expired)).all() if self.events else []
            failed = _count(
                session.execute(
                    update(Build)
                    .where(expired)
                    .values(
                        state="failed",
                        lease_owner=None,
                        lease_expires_at=None,
                        finished_at=now,
                        error="the worker running this build was lost and no attempts are left",
                    )
                    .execution_options(synchronize_session=False)
                )
            )
            for build_id in failing:
                self._emit(session, session.get(Build, build_id))
        return requeued + failed

    @offload
    def release(self, build_id: int, owner: str) -> None:
        """Give a build back to the queue (its worker is shutting down), the attempt not counted."""
        with Session(self.db.write) as session, session.begin():
            session.execute(
                update(Build)
                .where(*self._held(build_id, owner))
                .values(
                    state="queued",
                    attempts=Build.attempts - 1,
                    lease_owner=None,
                    lease_expires_at=None,
                    pushing_at=None,
                    error="its worker shut down; queued again",
                )
                .execution_options(synchronize_session=False)
            )

    @offload
    def append_log(self, build_id: int, lines: list[str]) -> None:
        if not lines:
            return
        now = self.clock.now()
        with Session(self.db.write) as session, session.begin():
            last = session.scalar(select(func.max(BuildLogLine.seq)).where(BuildLogLine.build_id == build_id))
            session.add_all(
                BuildLogLine(build_id=build_id, seq=(last or 0) + i, at=now, text=text)
                for i, text in enumerate(lines, start=1)
            )

    def _emit(self, session: Session, row: Build | None) -> None:
        if self.events is not None and row is not None:
            info = build_info(row)
            self.events(session.connection(), {name: getattr(info, name) for name in info.__slots__})

    @staticmethod
    def _held(build_id: int, owner: str) -> tuple[ColumnElement[bool], ...]:
        return (Build.id == build_id, Build.lease_owner == owner, Build.state.in_(ACTIVE))


def _count(result: Any) -> int:
    """Rows an UPDATE matched (every UPDATE returns a CursorResult)."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
