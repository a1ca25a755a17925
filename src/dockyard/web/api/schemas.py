"""The API's JSON shapes, named and typed as Docker Hub's (the fields hub-tool and scripts read).

Response models say what is always there and what may be null; FastAPI turns them into the
OpenAPI document, and schemathesis checks live responses against it. Request models forbid
unknown fields only where a typo would silently change nothing (PATCH bodies); login bodies
accept extra fields, since hub-tool sends docker's whole AuthConfig.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from dockyard import names

T = TypeVar("T")

# The name grammars (accounts/names.py, dockyard/names.py), so the document says what is valid.
DOCKER_ID = r"^(library|[a-z0-9]{4,30})$"
COMPONENT = rf"^{names.COMPONENT}$"

Label = Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S")]
NamespaceName = Annotated[str, Field(max_length=30, pattern=DOCKER_ID)]
RepositoryName = Annotated[str, Field(max_length=200, pattern=COMPONENT)]
ShortDescription = Annotated[str, Field(max_length=100)]
FullDescription = Annotated[str, Field(max_length=25_000)]
TokenScope = Literal["repo:admin", "repo:write", "repo:read", "repo:public_read"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Paginated(BaseModel, Generic[T]):
    """Docker Hub's page: ``next``/``previous`` are absolute URLs, null at the ends."""

    count: int
    next: str | None
    previous: str | None
    results: list[T]


# -- login --------------------------------------------------------------------------------------------


class LoginRequest(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=255)]
    password: Annotated[str, Field(min_length=1, max_length=4096)]


class LoginResponse(BaseModel):
    token: str


class AuthTokenRequest(BaseModel):
    identifier: Annotated[str, Field(min_length=1, max_length=255, description="username")]
    secret: Annotated[str, Field(min_length=1, max_length=4096, description="password or access token")]


class AuthTokenResponse(BaseModel):
    access_token: str


# -- repositories ---------------------------------------------------------------------------------------


class Category(BaseModel):
    name: str
    slug: str


class RepositorySummary(BaseModel):
    name: str
    namespace: str
    repository_type: str
    status: int
    status_description: str
    description: str
    is_private: bool
    star_count: int
    pull_count: int
    last_updated: datetime | None
    last_modified: datetime | None
    date_registered: datetime
    affiliation: str | None
    media_types: list[str]
    content_types: list[str]
    categories: list[Category]
    storage_size: int | None


class Permissions(BaseModel):
    read: bool
    write: bool
    admin: bool


class ImmutableTags(BaseModel):
    enabled: bool
    rules: list[str]


class Repository(RepositorySummary):
    user: str
    hub_user: str
    is_automated: bool
    collaborator_count: int = Field(description="users given a permission on this personal repository")
    has_starred: bool
    full_description: str
    permissions: Permissions
    immutable_tags_settings: ImmutableTags = Field(description="Dockyard never locks tags: always off")


class RepositoryCreate(Strict):
    namespace: NamespaceName
    name: RepositoryName
    description: ShortDescription = ""
    full_description: FullDescription = ""
    is_private: bool | None = None


class NamespaceRepositoryCreate(Strict):
    name: RepositoryName
    description: ShortDescription = ""
    full_description: FullDescription = ""
    is_private: bool | None = None


class RepositoryUpdate(Strict):
    description: ShortDescription | None = None
    full_description: FullDescription | None = None
    is_private: bool | None = None


# -- tags ------------------------------------------------------------------------------------------------


class Image(BaseModel):
    architecture: str
    features: str
    variant: str | None
    digest: str
    os: str
    os_features: str
    os_version: str | None
    size: int
    status: str
    last_pulled: datetime | None
    last_pushed: datetime | None


class Tag(BaseModel):
    id: int
    name: str
    repository: int
    digest: str
    full_size: int
    creator: int | None = Field(description="id of the user who pushed the tag first")
    last_updated: datetime
    last_updater: int | None = Field(description="id of the user who pushed the tag last")
    last_updater_username: str | None
    tag_status: str
    tag_last_pulled: datetime | None = Field(description="the last pull by this tag's name")
    tag_last_pushed: datetime | None
    v2: bool
    media_type: str
    content_type: str
    images: list[Image]


# -- search ----------------------------------------------------------------------------------------------


class SearchResult(BaseModel):
    repo_name: str
    short_description: str
    star_count: int
    pull_count: int
    repo_owner: str
    is_automated: bool
    is_official: bool


class V1SearchResult(BaseModel):
    name: str
    description: str
    star_count: int
    is_official: bool
    is_automated: bool


class V1SearchResponse(BaseModel):
    """Docker's v1 search answer, what ``docker search`` decodes."""

    num_pages: int
    num_results: int
    results: list[V1SearchResult]
    page_size: int
    query: str
    page: int


# -- personal access tokens --------------------------------------------------------------------------------


class AccessToken(BaseModel):
    uuid: str
    client_id: str
    creator_ip: str
    creator_ua: str
    created_at: datetime
    last_used: datetime | None
    generated_by: str
    is_active: bool
    token: str = Field(description="the secret: only in the answer to its creation, empty otherwise")
    token_label: str
    scopes: list[str]
    expires_at: datetime | None


class AccessTokenPage(Paginated[AccessToken]):
    active_count: int


class AccessTokenCreate(Strict):
    token_label: Label
    scopes: Annotated[list[TokenScope], Field(min_length=1, max_length=4)] = ["repo:admin"]
    expires_at: datetime | None = None


class AccessTokenUpdate(Strict):
    token_label: Label | None = None
    is_active: bool | None = None


# -- stars and webhooks --------------------------------------------------------------------------------


class StarStatus(BaseModel):
    starred: bool
    star_count: int


class Webhook(BaseModel):
    id: int
    name: str
    hook_url: str
    active: bool
    created_at: datetime
    creator: str | None
    secret: str | None = Field(description="the signing secret: only in the answer to its creation")


class WebhookCreate(Strict):
    name: Label
    hook_url: Annotated[str, Field(max_length=2000, pattern=r"^https?://[^\s/@]+", description="http(s) URL")]
    secret: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="HMAC-SHA256 key for X-Dockyard-Signature-256; generated when absent"
    )


class Delivery(BaseModel):
    id: int
    webhook_id: int
    webhook_name: str
    event: str
    tag: str | None
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
