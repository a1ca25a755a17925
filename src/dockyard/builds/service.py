"""Links, rules and builds: the builds domain's logic over the database, as typed records.

Synchronous units of work run off the event loop (``@offload``): reads on ``db.read``, each
write in one ``db.write`` transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from dockyard.accounts.audit import write_event
from dockyard.accounts.records import EventKind
from dockyard.builds.access import repository_name
from dockyard.builds.errors import InvalidRequest, NotFound, QueueFull
from dockyard.builds.models import Build, BuildLink, BuildLogLine, BuildRule
from dockyard.builds.records import BuildInfo, Link, LinkSource, LogLine, NewLink
from dockyard.builds.rules import Match, Rule, RuleError, Variable
from dockyard.builds.secrets import SecretBox
from dockyard.builds.source_secrets import public_url, refuse_credentials, source_host
from dockyard.builds.sources import SourceError
from dockyard.builds.sources import parse as parse_source
from dockyard.db.engine import Database, offload
from dockyard.db.models import utcnow

COPIED_ON_RETRY = (
    "link_id", "repository", "source_type", "source_ref", "commit",
    "commit_message", "tags", "dockerfile", "context", "build_cache", "variables",
)  # fmt: skip


MAX_SOURCE_URL = 1024  # the column's size
MAX_RULES = 50
MAX_HISTORY = 500  # builds listed at once


def check_source(url: str) -> None:
    """https, http, ssh (URL or scp-like) and git URLs on a named host, with no credentials in
    them (source_secrets.py); never a local path (sources.py)."""
    if len(url) > MAX_SOURCE_URL:
        raise InvalidRequest(f"a source URL is at most {MAX_SOURCE_URL} characters")
    refuse_credentials(url)
    try:
        parse_source(url)
    except SourceError as exc:
        raise InvalidRequest(str(exc)) from None


def check_rules(rules: Sequence[Rule]) -> None:
    """Every rule as it must be saved (RE2 expressions), numbered as the settings page shows them."""
    if len(rules) > MAX_RULES:
        raise InvalidRequest(f"a link has at most {MAX_RULES} rules")
    for number, rule in enumerate(rules, 1):
        try:
            rule.check()
        except RuleError as exc:
            raise InvalidRequest(f"rule {number}: {exc}") from None


def canonical(repository: str) -> str:
    """Names reach the service canonical (``library/nginx``, never ``nginx``): a door that forgot
    to canonicalise would check one repository's rights and change another's builds."""
    if repository_name(repository) != repository:
        raise InvalidRequest(f"{repository!r} is not a canonical repository name")
    return repository


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class BuildService:
    def __init__(self, database: Database, box: SecretBox, queue_limit: int) -> None:
        self.db = database
        self.box = box
        self.queue_limit = queue_limit

    # -- links and rules ------------------------------------------------------------------

    @offload
    def create_link(
        self,
        repository: str,
        source_url: str,
        rules: Sequence[Rule] = (),
        *,
        credentials: dict[str, str] | None = None,
        created_by: str | None = None,
        keep_credentials: bool = False,
    ) -> NewLink:
        """Link a repository to a git source, with a fresh secret and trigger token. Linking it
        again changes the link in place: its build history stays. ``keep_credentials`` (the
        settings page, whose password field is never filled in) keeps the saved credentials when
        none are given, but only while the source URL stays the same: they never follow a link
        to another host."""
        canonical(repository)
        check_rules(rules)
        source_url = source_url.strip()
        check_source(source_url)
        secret, trigger = secrets.token_hex(20), secrets.token_urlsafe(24)
        with Session(self.db.write) as session, session.begin():
            row = session.scalar(select(BuildLink).where(BuildLink.repository == repository))
            change = EventKind.BUILD_LINKED
            if row is None:
                row = BuildLink(repository=repository, created_at=utcnow())
                session.add(row)
            else:
                same = row.source_url == source_url
                change = EventKind.BUILD_RULES_CHANGED if same else EventKind.BUILD_RELINKED
            kept = row.credentials if keep_credentials and row.source_url == source_url else None
            row.source_url = source_url
            row.credentials = self.box.seal(credentials) if credentials else kept
            row.webhook_secret = self.box.seal(secret)
            row.trigger_token_hash = token_hash(trigger)
            row.created_by = created_by
            session.flush()
            self._replace_rules(session, row.id, rules)
            self._audit(session, change, created_by, repository, source_url, rules=len(rules))
            link = self._link(session, row)
        return NewLink(link, secret, trigger)

    @offload
    def set_rules(self, link_id: int, rules: Sequence[Rule], *, actor: str | None = None) -> Link:
        check_rules(rules)
        with Session(self.db.write) as session, session.begin():
            row = self._link_row(session, link_id)
            self._replace_rules(session, link_id, rules)
            kind = EventKind.BUILD_RULES_CHANGED
            self._audit(session, kind, actor, row.repository, row.source_url, rules=len(rules))
            return self._link(session, row)

    @offload
    def unlink(self, repository: str, *, actor: str | None = None) -> None:
        canonical(repository)
        with Session(self.db.write) as session, session.begin():
            row = session.scalar(select(BuildLink).where(BuildLink.repository == repository))
            if row is not None:
                self._audit(session, EventKind.BUILD_UNLINKED, actor, repository, row.source_url)
                session.delete(row)

    @staticmethod
    def _audit(
        session: Session, kind: EventKind, actor: str | None, repository: str, source: str, **detail: Any
    ) -> None:
        """A link change in the audit log, in the change's transaction; its source by host, never URL."""
        write_event(
            session.connection(),
            kind,
            actor=actor,
            target=repository,
            detail={"host": source_host(source), **detail},
        )

    @offload
    def link(self, link_id: int) -> Link:
        with Session(self.db.read) as session:
            return self._link(session, self._link_row(session, link_id))

    @offload
    def link_for(self, repository: str) -> Link:
        canonical(repository)
        with Session(self.db.read) as session:
            row = session.scalar(select(BuildLink).where(BuildLink.repository == repository))
            if row is None:
                raise NotFound(f"{repository} is not linked to a git source")
            return self._link(session, row)

    @offload
    def webhook_secret(self, link_id: int) -> str:
        with Session(self.db.read) as session:
            secret: str = self.box.open(self._link_row(session, link_id).webhook_secret)
            return secret

    @offload
    def source(self, link_id: int) -> LinkSource:
        """Where to fetch from, with the credentials: for the server's own fetches, never shown."""
        with Session(self.db.read) as session:
            row = self._link_row(session, link_id)
            return LinkSource(row.source_url, self.box.open(row.credentials, {}))

    @offload
    def trigger_token_valid(self, link_id: int, token: str) -> bool:
        with Session(self.db.read) as session:
            row = session.get(BuildLink, link_id)
            expected = row.trigger_token_hash if row else token_hash(secrets.token_hex(8))
            return hmac.compare_digest(expected, token_hash(token)) and row is not None

    def _link_row(self, session: Session, link_id: int) -> BuildLink:
        row = session.get(BuildLink, link_id)
        if row is None:
            raise NotFound(f"no build link {link_id}")
        return row

    def _replace_rules(self, session: Session, link_id: int, rules: Sequence[Rule]) -> None:
        session.execute(delete(BuildRule).where(BuildRule.link_id == link_id))
        for position, rule in enumerate(rules):
            session.add(
                BuildRule(
                    link_id=link_id,
                    position=position,
                    source_type=rule.source_type,
                    source_name=rule.source_name,
                    docker_tag=rule.docker_tag,
                    dockerfile=rule.dockerfile,
                    context=rule.context,
                    autobuild=rule.autobuild,
                    build_cache=rule.build_cache,
                    variables=self.box.seal([asdict(v) for v in rule.variables]) if rule.variables else None,
                )
            )

    def _link(self, session: Session, row: BuildLink) -> Link:
        rules = session.scalars(
            select(BuildRule).where(BuildRule.link_id == row.id).order_by(BuildRule.position)
        )
        return Link(
            row.id, row.repository, public_url(row.source_url), row.created_by, row.created_at,
            tuple(self._rule(r) for r in rules),
        )  # fmt: skip

    def _rule(self, row: BuildRule) -> Rule:
        variables = tuple(Variable(**v) for v in self.box.open(row.variables, []))
        return Rule(
            row.source_type, row.source_name, row.docker_tag, row.dockerfile,  # type: ignore[arg-type]
            row.context, row.autobuild, row.build_cache, variables,
        )  # fmt: skip

    # -- builds -----------------------------------------------------------------------------

    @offload
    def enqueue(
        self,
        link: Link,
        matches: Sequence[Match],
        *,
        trigger: str,
        source_type: str,
        ref: str,
        commit: str,
        message: str = "",
    ) -> list[BuildInfo]:
        """Queue one build per match; refuses all of them past the queue limit."""
        if not matches:
            return []
        with Session(self.db.write) as session, session.begin():
            queued = session.scalar(select(func.count()).select_from(Build).where(Build.state == "queued"))
            if (queued or 0) + len(matches) > self.queue_limit:
                raise QueueFull(f"the build queue is full ({self.queue_limit} builds waiting)")
            rows = [
                Build(
                    link_id=link.id,
                    repository=link.repository,
                    trigger=trigger,
                    source_type=source_type,
                    source_ref=ref,
                    commit=commit,
                    commit_message=message[:4000],
                    tags=list(match.tags),
                    dockerfile=match.rule.dockerfile,
                    context=match.rule.context,
                    build_cache=match.rule.build_cache,
                    variables=(
                        self.box.seal([asdict(v) for v in match.rule.variables])
                        if match.rule.variables
                        else None
                    ),
                    state="queued",
                    queued_at=utcnow(),
                )
                for match in matches
            ]
            session.add_all(rows)
            session.flush()
            return [build_info(row) for row in rows]

    @offload
    def build(self, build_id: int) -> BuildInfo:
        with Session(self.db.read) as session:
            row = session.get(Build, build_id)
            if row is None:
                raise NotFound(f"no build {build_id}")
            return build_info(row)

    @offload
    def builds(self, repository: str, limit: int = 50) -> list[BuildInfo]:
        canonical(repository)
        if not 1 <= limit <= MAX_HISTORY:
            raise InvalidRequest(f"limit must be from 1 to {MAX_HISTORY}")
        with Session(self.db.read) as session:
            rows = session.scalars(
                select(Build).where(Build.repository == repository).order_by(Build.id.desc()).limit(limit)
            )
            return [build_info(row) for row in rows]

    @offload
    def latest_finished(self, repository: str, tag: str | None) -> BuildInfo | None:
        """The newest build that finished (for a badge), optionally one that pushes ``tag``."""
        canonical(repository)
        with Session(self.db.read) as session:
            rows = session.scalars(
                select(Build)
                .where(Build.repository == repository, Build.state.in_(("success", "failed")))
                .order_by(Build.id.desc())
                .limit(200)
            )
            for row in rows:
                if tag is None or tag in row.tags:
                    return build_info(row)
            return None

    @offload
    def log(self, build_id: int, after: int = 0, limit: int = 5000) -> list[LogLine]:
        with Session(self.db.read) as session:
            rows = session.scalars(
                select(BuildLogLine)
                .where(BuildLogLine.build_id == build_id, BuildLogLine.seq > after)
                .order_by(BuildLogLine.seq)
                .limit(limit)
            )
            return [LogLine(r.seq, r.at, r.text) for r in rows]

    @offload
    def cancel(self, build_id: int) -> BuildInfo:
        """A queued build is canceled at once; a running one when its worker next renews its lease."""
        now = utcnow()
        with Session(self.db.write) as session, session.begin():
            row = session.get(Build, build_id)
            if row is None:
                raise NotFound(f"no build {build_id}")
            if row.state == "queued":
                row.state, row.finished_at, row.error = "canceled", now, "canceled before it started"
            elif row.state in ("building", "pushing"):
                row.cancel_requested = True
            return build_info(row)

    @offload
    def retry(self, build_id: int) -> BuildInfo:
        """A finished build queued again as a new build with the same commit and settings."""
        with Session(self.db.write) as session, session.begin():
            row = session.get(Build, build_id)
            if row is None:
                raise NotFound(f"no build {build_id}")
            if row.state not in ("success", "failed", "canceled"):
                raise InvalidRequest(f"build {build_id} is still {row.state}")
            copy = Build(
                **{name: getattr(row, name) for name in COPIED_ON_RETRY},
                trigger="retry",
                state="queued",
                queued_at=utcnow(),
            )
            session.add(copy)
            session.flush()
            return build_info(copy)


def build_info(row: Build) -> BuildInfo:
    return BuildInfo(
        row.id, row.link_id, row.repository, row.trigger, row.source_type, row.source_ref, row.commit,
        row.commit_message, tuple(row.tags), row.dockerfile, row.context, row.state,  # type: ignore[arg-type]
        row.attempts, row.digest, row.error, _aware(row.queued_at), _aware(row.started_at),
        _aware(row.pushing_at), _aware(row.finished_at),
    )  # fmt: skip


def _aware(value: Any) -> Any:
    """SQLite hands back naive datetimes; every timestamp here is UTC."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
