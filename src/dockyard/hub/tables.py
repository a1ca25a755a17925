"""SQLAlchemy Core handles on the hub's own tables, and the time helpers its modules share.

Only the hub's: what it reads of the registry's and the accounts' tables goes through their read
models (``registry/catalog.py``, ``registry/readmodels.py``, ``registry/views.py``,
``accounts/readmodels.py``); tests/unit/test_table_owners.py keeps it so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table

from dockyard.hub import models as hub

stars = cast(Table, hub.Star.__table__)
repository_stats = cast(Table, hub.RepositoryStats.__table__)
tag_activity = cast(Table, hub.TagActivity.__table__)
manifest_activity = cast(Table, hub.ManifestActivity.__table__)
webhooks = cast(Table, hub.Webhook.__table__)
deliveries = cast(Table, hub.WebhookDelivery.__table__)


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every value we store is UTC."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
