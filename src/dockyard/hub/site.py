"""Settings administrators change on the admin pages, kept in the database (``site_settings``).

Today one: whether people may sign up. ``DOCKYARD_SIGNUP`` is the default; once an administrator
chooses on /admin/settings, the row decides, for every worker and across restarts, until it is
changed again. Every change is audited (``site.setting_changed``) in its transaction.

Pages read the value on every render (the navigation shows "Sign up" or not), so reads are cached
per process for ``ttl`` seconds; the sign-up itself asks ``signup(fresh=True)``, so a closed site
refuses at once on every worker, whatever another worker's cache says.
"""

from __future__ import annotations

import time
from typing import Literal, cast

from sqlalchemy import Table, select

from dockyard.accounts.audit import write_event
from dockyard.accounts.records import EventKind, Principal
from dockyard.db.engine import Database, lookup, offload
from dockyard.hub import models
from dockyard.hub.admin import require_admin
from dockyard.hub.errors import InvalidInput
from dockyard.hub.tables import now

site_settings = cast(Table, models.SiteSetting.__table__)
Signup = Literal["open", "closed"]
SIGNUP = "signup"
SIGNUP_VALUES = ("open", "closed")


class SiteSettings:
    def __init__(self, database: Database, signup_default: Signup, ttl: float = 5.0) -> None:
        self.db = database
        self.signup_default: Signup = signup_default
        self.ttl = ttl
        self.inline_lookups = database.dialect == "sqlite"
        self._cached: tuple[float, Signup, bool] | None = None  # (read at, value, set by an admin)

    async def signup(self, *, fresh: bool = False) -> Signup:
        return (await self.signup_state(fresh=fresh))[0]

    async def signup_state(self, *, fresh: bool = False) -> tuple[Signup, bool]:
        """(open or closed, whether an administrator chose it rather than DOCKYARD_SIGNUP)."""
        cached = self._cached
        if not fresh and cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1], cached[2]
        stored = await self._read(SIGNUP)
        state: tuple[Signup, bool] = (
            (cast(Signup, stored), True) if stored in SIGNUP_VALUES else (self.signup_default, False)
        )
        self._cached = (time.monotonic(), *state)
        return state

    async def set_signup(self, viewer: Principal | None, value: str) -> None:
        """Open or close sign-up (site administrators only)."""
        admin = require_admin(viewer)
        if value not in SIGNUP_VALUES:
            raise InvalidInput("sign-up is open or closed")
        await self._write(SIGNUP, value, admin.username)
        self._cached = None

    @lookup
    def _read(self, key: str) -> str | None:
        with self.db.read.connect() as conn:
            value = conn.execute(select(site_settings.c.value).where(site_settings.c.key == key)).scalar()
        return value if isinstance(value, str) else None

    @offload
    def _write(self, key: str, value: str, actor: str) -> None:
        with self.db.write.begin() as conn:
            before = conn.execute(
                select(site_settings.c.value).where(site_settings.c.key == key)
            ).scalar_one_or_none()
            if before == value:
                return
            if before is None:
                conn.execute(
                    site_settings.insert().values(key=key, value=value, updated_at=now(), updated_by=actor)
                )
            else:
                conn.execute(
                    site_settings.update()
                    .where(site_settings.c.key == key)
                    .values(value=value, updated_at=now(), updated_by=actor)
                )
            detail = {"setting": key, "from": before, "to": value}
            write_event(conn, EventKind.SITE_SETTING_CHANGED, actor=actor, target=key, detail=detail)
