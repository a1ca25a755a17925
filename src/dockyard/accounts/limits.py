"""Creation limits: sign-ups per client address, new repositories per user, repositories per namespace.

    signup:<address>     sign-ups from one address per window (an IPv6 address counts as its /64,
                         what one host or home is usually given, so it cannot rotate through them)
    repo:<username>      repositories one user creates per window (a push into a new name, the
                         web page, the API), whichever namespace they land in
    per namespace        a cap on the repositories a namespace holds: a count, not a rate

Each counted act is a row of ``rate_limit_hits`` (db/models.py), written in the transaction that
does the act, so a limit holds across server workers, restarts and concurrent requests (on SQLite
a write transaction takes the lock up front). The window slides: an act counts for exactly
``seconds`` after it happened, and the refusal says when the oldest counted act leaves the window.
``check`` is the read-only half, for refusing a flood before any password is hashed. A limit of 0
is no limit; administrators and the command line are never limited.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.engine import Connection

from dockyard.accounts.errors import QuotaExceeded, RateLimited
from dockyard.clock import utc
from dockyard.config import Settings
from dockyard.db import models
from dockyard.registry import repository_rows

hits = cast(Table, models.RateLimitHit.__table__)


@dataclass(frozen=True, slots=True)
class Window:
    limit: int = 0  # acts per window; 0: unlimited
    seconds: int = 3600


@dataclass(frozen=True, slots=True)
class CreationLimits:
    signups_per_address: Window = field(default_factory=Window)
    repositories_per_user: Window = field(default_factory=Window)
    repositories_per_namespace: int = 0  # 0: unlimited

    @classmethod
    def from_settings(cls, settings: Settings) -> CreationLimits:
        return cls(
            Window(settings.signup_limit_per_address, settings.signup_limit_window_seconds),
            Window(settings.repository_limit_per_user, settings.repository_limit_window_seconds),
            settings.repository_limit_per_namespace,
        )


def signup_key(address: str) -> str:
    """The limit key of a client address: IPv4 as it is, IPv6 by its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"signup:{address[:64]}"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv6Address):
        return f"signup:{ipaddress.IPv6Network((ip, 64), strict=False)}"
    return f"signup:{ip}"


def repository_key(username: str) -> str:
    return f"repo:{username}"


def check(conn: Connection, key: str, window: Window, now: datetime, what: str) -> None:
    """RateLimited when ``key`` has used up its window (``what`` names the act for people)."""
    if window.limit <= 0:
        return
    counted = conn.execute(
        select(hits.c.at)
        .where(hits.c.key == key, hits.c.at > now - timedelta(seconds=window.seconds))
        .order_by(hits.c.at.desc())
        .limit(window.limit)
    ).scalars()
    recent = [utc(at) for at in counted]
    if len(recent) < window.limit:
        return
    frees_at = recent[-1] + timedelta(seconds=window.seconds)
    retry_after = max(1, math.ceil((frees_at - now).total_seconds()))
    raise RateLimited(
        f"too many {what} (at most {window.limit} in {_span(window.seconds)}); "
        f"try again in {_span(retry_after)}",
        retry_after,
    )


def take(conn: Connection, key: str, window: Window, now: datetime, what: str) -> None:
    """Count one act under ``key``, or RateLimited when that would pass the limit."""
    if window.limit <= 0:
        return
    check(conn, key, window, now, what)
    conn.execute(delete(hits).where(hits.c.key == key, hits.c.at <= now - timedelta(seconds=window.seconds)))
    conn.execute(hits.insert().values(key=key, at=now))


def check_namespace(conn: Connection, namespace: str, cap: int) -> None:
    """QuotaExceeded when the namespace already holds ``cap`` repositories."""
    if cap <= 0:
        return
    if repository_rows.held(conn, namespace, at_most=cap) >= cap:
        raise QuotaExceeded(
            f"{namespace!r} holds {cap} repositories, the most a namespace may; delete some first"
        )


def _span(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 7200:
        return f"{math.ceil(seconds / 60)} minutes"
    return f"{math.ceil(seconds / 3600)} hours"
