"""Hub records to Docker Hub's JSON shapes (schemas.py). Pure functions, one per shape.

Fields Dockyard has no notion of get Docker Hub's neutral values: ``repository_type`` "image",
``status`` 1 / "active", ``is_automated`` false, ``categories`` [], ``features`` "".
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from dockyard.accounts.records import AccessToken as TokenRecord
from dockyard.accounts.records import Principal
from dockyard.hub import records
from dockyard.web.api import schemas
from dockyard.web.api.store import RepositoryFacts

ACTIVE = 1
UNKNOWN = "unknown"
# Personal access token ids become stable UUIDs (Docker Hub's token ids) under this namespace.
TOKEN_NAMESPACE = uuid.UUID("5d4c7b0e-8f3a-5b2e-9c61-3f0d2a7e4b19")
USER_NAMESPACE = uuid.UUID("0f6a1e2d-3c4b-5a69-8d7e-1b2c3d4e5f60")
ORG_NAMESPACE = uuid.UUID("7a1b2c3d-4e5f-5a6b-9c8d-0e1f2a3b4c5d")


def repository_summary(
    repo: records.RepositorySummary, facts: RepositoryFacts | None, viewer: Principal | None
) -> schemas.RepositorySummary:
    media_types = list(facts.media_types) if facts else []
    return schemas.RepositorySummary(
        name=repo.short_name,
        namespace=repo.namespace,
        repository_type="image",
        status=ACTIVE,
        status_description="active",
        description=repo.description,
        is_private=repo.is_private,
        star_count=repo.star_count,
        pull_count=repo.pull_count,
        last_updated=repo.last_pushed_at,
        last_modified=repo.last_pushed_at or repo.created_at,
        date_registered=repo.created_at,
        affiliation="owner" if viewer is not None and viewer.username == repo.namespace else None,
        media_types=media_types,
        content_types=["image"] if media_types else [],
        categories=[],
        storage_size=facts.storage_size if facts else None,
    )


def repository(
    detail: records.RepositoryDetail,
    facts: RepositoryFacts | None,
    viewer: Principal | None,
    collaborators: int = 0,
) -> schemas.Repository:
    summary = repository_summary(detail.summary, facts, viewer)
    return schemas.Repository(
        **summary.model_dump(),
        user=detail.summary.namespace,
        hub_user=detail.summary.namespace,
        is_automated=False,
        collaborator_count=collaborators,
        immutable_tags_settings=schemas.ImmutableTags(enabled=False, rules=[]),
        has_starred=detail.starred,
        full_description=detail.full_description,
        permissions=schemas.Permissions(
            read="pull" in detail.actions, write="push" in detail.actions, admin="delete" in detail.actions
        ),
    )


def image(info: records.ImageInfo) -> schemas.Image:
    return schemas.Image(
        architecture=info.architecture or UNKNOWN,
        features="",
        variant=info.variant,
        digest=info.digest,
        os=info.os or UNKNOWN,
        os_features="",
        os_version=None,
        size=info.size,
        status="active",
        last_pulled=info.last_pulled_at,
        last_pushed=info.last_pushed_at,
    )


def tag(info: records.TagInfo, repository_id: int, user_ids: Mapping[str, int]) -> schemas.Tag:
    """``user_ids``: account ids by name, for ``creator`` and ``last_updater`` (null once the
    account is deleted, or when nobody logged in pushed)."""
    return schemas.Tag(
        id=info.id,
        name=info.name,
        repository=repository_id,
        digest=info.digest,
        full_size=info.size,
        creator=user_ids.get(info.creator or ""),
        last_updated=info.last_pushed_at,
        last_updater=user_ids.get(info.pusher or ""),
        last_updater_username=info.pusher,
        tag_status="active",
        tag_last_pulled=info.last_pulled_at,
        tag_last_pushed=info.last_pushed_at,
        v2=True,
        media_type=info.media_type,
        content_type="image",
        images=[image(i) for i in info.images],
    )


def search_name(repo: records.RepositorySummary) -> str:
    """Official images go by their short name, as on Docker Hub ("nginx", not "library/nginx")."""
    return repo.short_name if repo.is_official else repo.name


def search_result(repo: records.RepositorySummary) -> schemas.SearchResult:
    return schemas.SearchResult(
        repo_name=search_name(repo),
        short_description=repo.description,
        star_count=repo.star_count,
        pull_count=repo.pull_count,
        repo_owner=repo.namespace,
        is_automated=False,
        is_official=repo.is_official,
    )


def v1_search_result(repo: records.RepositorySummary) -> schemas.V1SearchResult:
    return schemas.V1SearchResult(
        name=search_name(repo),
        description=repo.description,
        star_count=repo.star_count,
        is_official=repo.is_official,
        is_automated=False,
    )


def token_uuid(token: TokenRecord) -> str:
    return str(uuid.uuid5(TOKEN_NAMESPACE, f"{token.id}:{token.hint}"))


def user_uuid(user_id: int) -> str:
    return str(uuid.uuid5(USER_NAMESPACE, str(user_id)))


def org_uuid(org_id: int) -> str:
    return str(uuid.uuid5(ORG_NAMESPACE, str(org_id)))


def access_token(token: TokenRecord, *, active: bool, plaintext: str = "") -> schemas.AccessToken:
    return schemas.AccessToken(
        uuid=token_uuid(token),
        client_id="HUB",
        creator_ip="",
        creator_ua="",
        created_at=token.created_at,
        last_used=token.last_used_at,
        generated_by="manual",
        is_active=active,
        token=plaintext,
        token_label=token.label,
        scopes=sorted(token.scopes),
        expires_at=token.expires_at,
    )


def webhook(hook: records.Webhook, *, with_secret: bool = False) -> schemas.Webhook:
    return schemas.Webhook(
        id=hook.id,
        name=hook.name,
        hook_url=hook.url,
        active=hook.active,
        created_at=hook.created_at,
        creator=hook.created_by,
        secret=hook.secret if with_secret else None,
    )


def delivery(item: records.Delivery) -> schemas.Delivery:
    return schemas.Delivery(
        id=item.id,
        webhook_id=item.webhook_id,
        webhook_name=item.webhook_name,
        event=item.event,
        tag=item.tag,
        status=item.status,  # type: ignore[arg-type]
        attempts=item.attempts,
        last_status_code=item.last_status_code,
        last_error=item.last_error,
        created_at=item.created_at,
        next_attempt_at=item.next_attempt_at,
        delivered_at=item.delivered_at,
    )
