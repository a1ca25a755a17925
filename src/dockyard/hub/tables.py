"""SQLAlchemy Core handles on the tables the hub queries: its own and the ones it reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table

from dockyard.db import models
from dockyard.hub import models as hub

repositories = cast(Table, models.Repository.__table__)
manifests = cast(Table, models.Manifest.__table__)
references = cast(Table, models.ManifestReference.__table__)
tags = cast(Table, models.Tag.__table__)
links = cast(Table, models.RepositoryBlob.__table__)
namespaces = cast(Table, models.Namespace.__table__)
users = cast(Table, models.User.__table__)
organizations = cast(Table, models.Organization.__table__)
teams = cast(Table, models.Team.__table__)
members = cast(Table, models.TeamMember.__table__)
team_permissions = cast(Table, models.TeamPermission.__table__)

stars = cast(Table, hub.Star.__table__)
repository_stats = cast(Table, hub.RepositoryStats.__table__)
tag_activity = cast(Table, hub.TagActivity.__table__)
manifest_activity = cast(Table, hub.ManifestActivity.__table__)
webhooks = cast(Table, hub.Webhook.__table__)
deliveries = cast(Table, hub.WebhookDelivery.__table__)
web_sessions = cast(Table, hub.WebSession.__table__)


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every value we store is UTC."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
