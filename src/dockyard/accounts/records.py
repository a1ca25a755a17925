"""Typed records that cross the accounts service boundary; ORM rows never leave the service."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from dockyard.registry.repository_rows import RepositoryRow

Action = Literal["pull", "push", "delete"]
Permission = Literal["read", "write", "admin"]
OrgRole = Literal["owner", "member"]

ALL_ACTIONS: frozenset[str] = frozenset({"pull", "push", "delete"})
# Docker Hub's personal access token scopes, each implying the ones below it.
TOKEN_SCOPES: tuple[str, ...] = ("repo:admin", "repo:write", "repo:read", "repo:public_read")
TOKEN_PREFIX = "dckr_pat_"


class EventKind(StrEnum):
    """Audit event kinds. The service records the ones its methods cause; the auth and registry
    layers record logins, pushes and deletes through ``AccountService.record_event``."""

    LOGIN_SUCCESS = "login.success"
    LOGIN_FAILURE = "login.failure"
    TOKEN_CREATED = "token.created"
    TOKEN_REVOKED = "token.revoked"
    PUSH = "push"
    DELETE = "delete"
    PERMISSION_CHANGED = "permission.changed"
    VISIBILITY_CHANGED = "visibility.changed"
    DEFAULT_VISIBILITY_CHANGED = "visibility.default_changed"
    REPOSITORY_CREATED = "repository.created"
    USER_CREATED = "user.created"
    USER_DISABLED = "user.disabled"
    USER_ENABLED = "user.enabled"
    USER_DELETED = "user.deleted"
    ADMIN_CHANGED = "admin.changed"
    PASSWORD_CHANGED = "password.changed"
    PROFILE_CHANGED = "profile.changed"
    SITE_SETTING_CHANGED = "site.setting_changed"
    REPOSITORY_DELETED = "repository.deleted"
    WEBHOOK_ADDED = "webhook.added"
    WEBHOOK_REMOVED = "webhook.removed"
    # Written by the builds domain through ``write_event`` (accounts/audit.py).
    BUILD_LINKED = "build.linked"
    BUILD_RELINKED = "build.relinked"
    BUILD_UNLINKED = "build.unlinked"
    BUILD_RULES_CHANGED = "build.rules_changed"
    ORG_CREATED = "org.created"
    TEAM_CREATED = "team.created"
    TEAM_MEMBER_ADDED = "team.member_added"
    TEAM_MEMBER_REMOVED = "team.member_removed"
    TEAM_CHANGED = "team.changed"
    TEAM_DELETED = "team.deleted"
    ORG_MEMBER_ADDED = "org.member_added"
    ORG_MEMBER_REMOVED = "org.member_removed"
    ORG_ROLE_CHANGED = "org.role_changed"
    ORG_DELETED = "org.deleted"
    COLLABORATOR_CHANGED = "collaborator.changed"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an authenticated user, possibly through a personal access token."""

    username: str
    user_id: int
    is_admin: bool
    token_id: int | None = None  # set when authenticated by a personal access token
    token_scopes: frozenset[str] | None = None  # e.g. {"repo:read"}; None for password logins
    # The account's credentials version at login, bound into what the login issues (sessions,
    # refresh and hub tokens): a password change makes every older one useless.
    credentials_version: int = 0


@dataclass(frozen=True, slots=True)
class Profile:
    """What a user tells others about themselves (all optional, shown on /u/NAME)."""

    full_name: str = ""
    location: str = ""
    company: str = ""
    website: str = ""  # an http(s) URL or empty


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    email: str
    is_admin: bool
    default_private: bool
    created_at: datetime
    last_login_at: datetime | None = None
    disabled_at: datetime | None = None  # set while the account is disabled
    profile: Profile = field(default_factory=Profile)

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


@dataclass(frozen=True, slots=True)
class Organization:
    id: int
    name: str
    default_private: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Team:
    id: int
    organization: str
    name: str
    description: str
    created_at: datetime
    members: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TeamPermission:
    organization: str
    team: str
    repository: str
    permission: Permission


@dataclass(frozen=True, slots=True)
class OrgMember:
    """Someone in an organisation: their role and the teams (besides owners) they are in."""

    organization: str
    username: str
    user_id: int
    role: OrgRole
    teams: tuple[str, ...]
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class Collaborator:
    """A user given a permission on one personal repository."""

    repository: str
    username: str
    user_id: int
    permission: Permission
    added_at: datetime


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A personal access token as listed; the plaintext is never part of it."""

    id: int
    username: str
    label: str
    scopes: frozenset[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool
    hint: str = ""  # the token's non-secret lookup part, e.g. "dckr_pat_AbCdEfGhIjKl…"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: int
    created_at: datetime
    kind: str
    actor: str | None
    ip: str | None
    target: str | None
    detail: dict[str, Any] = field(default_factory=dict)


# A repository as accounts hand it out: the registry's row record (registry/repository_rows.py).
RepositoryInfo = RepositoryRow


@dataclass(frozen=True, slots=True)
class CatalogPage:
    items: list[str]
    last: str | None  # set when more items follow
