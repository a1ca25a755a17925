"""Typed configuration, validated once at start-up.

Values come from CLI options, then ``DOCKYARD_*`` environment variables, then the TOML file named
by ``--config`` or DOCKYARD_CONFIG (keys are the settings' names without the prefix, ``port =
5000``; the builds' under ``[builds]``), then defaults.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from dockyard.background import parse_roles

CONFIG_ENV = "DOCKYARD_CONFIG"


class ConfigFileMissing(ValueError):
    pass


# Where the key that seals secrets in the database lives unless DOCKYARD_SECRETS_KEY_FILE says.
SECRETS_KEY_FILE = Path("keys") / "secrets.key"


# -- builds: DOCKYARD_BUILD_* variables, nested in Settings as ``settings.builds`` -------------------

REMOVED = {
    "DOCKYARD_BUILD_ALLOW_LOCAL_SOURCES": (
        "local paths are no longer build sources; serve the repository with `git daemon` or over "
        "https/ssh, and set DOCKYARD_BUILD_ALLOW_PRIVATE_SOURCES=true if it is on this machine or network"
    ),
    "DOCKYARD_BUILD_DOCKER": "builds talk to the engine's API; set DOCKYARD_BUILD_DOCKER_HOST instead",
    "DOCKYARD_BUILD_BUILDER": "builds use the engine's classic builder through its API",
}


class BuildSettings(BaseSettings):
    """The builds domain's knobs; read from the environment with the rest, when Settings is made."""

    model_config = SettingsConfigDict(env_prefix="DOCKYARD_BUILD_", frozen=True)

    # Run builds inside `dockyard serve` (as Docker Hub's single-box setup would); the older switch:
    # false is the same as leaving the builds role out of DOCKYARD_BACKGROUND.
    embedded_worker: bool = True
    # Builds one worker runs at once.
    concurrency: int = Field(default=2, ge=1, le=64)
    # Queued builds accepted before triggers answer 429.
    queue_limit: int = Field(default=100, ge=1)
    timeout_seconds: int = Field(default=3600, ge=1)
    # A worker renews its lease every lease/3 seconds; a build whose lease ran out is requeued
    # (attempts < max_attempts) or failed.
    lease_seconds: int = Field(default=60, ge=2)
    max_attempts: int = Field(default=2, ge=1, le=10)
    poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # Where the engine pushes: host:port of this Dockyard as the engine reaches it;
    # empty means the public URL's host, else 127.0.0.1:<port>.
    registry: str = ""
    # The Docker engine's API: unix:///path or tcp://host:port; empty means DOCKER_HOST, else
    # the usual socket.
    docker_host: str = ""
    git: str = "git"
    # The network of the build's RUN steps and of the hooks' sandbox (the engine's network mode);
    # empty leaves the engine's default (a bridge with outbound access), "none" cuts them off.
    network: str = ""
    # Hooks (hooks/pre_build, post_build, pre_push, post_push beside the Dockerfile): "sandboxed"
    # runs each in a throw-away container of hook_image; "off" fails a build whose source has any.
    hooks: Literal["sandboxed", "off"] = "sandboxed"
    hook_image: str = "busybox:stable"
    hook_memory_bytes: int = Field(default=512 * 1024 * 1024, ge=16 * 1024 * 1024)
    # Memory of each build step's container (0: the engine's default, unlimited).
    memory_bytes: int = Field(default=0, ge=0)
    # The most a hook may leave in the checkout it hands back.
    checkout_limit_bytes: int = Field(default=2 * 1024**3, ge=1024 * 1024)
    # git sources on loopback, private or link-local addresses (checked after DNS resolution,
    # on every connection); cloud metadata addresses stay refused even then.
    allow_private_sources: bool = False

    def model_post_init(self, context: Any) -> None:
        for name, why in REMOVED.items():
            if name in os.environ:
                raise ValueError(f"{name} is no longer a setting: {why}")

    @field_validator("docker_host")
    @classmethod
    def _engine(cls, value: str) -> str:
        value = value or os.environ.get("DOCKER_HOST", "") or "unix:///var/run/docker.sock"
        if not value.startswith(("unix://", "tcp://", "http://")):
            raise ValueError("docker_host must be unix:///path or tcp://host:port")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCKYARD_", extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=5000, ge=0, le=65535)
    data_dir: Path = Path("./dockyard-data")
    # Metadata database URL; empty means SQLite inside data_dir.
    database_url: str = ""
    # Where blobs live: "filesystem" (<data_dir>/storage) or "s3" (the DOCKYARD_S3_* settings below).
    storage: Literal["filesystem", "s3"] = "filesystem"
    # -- S3 object storage: the bucket (created if missing) and, each overriding boto3's own AWS_*
    # variables (AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)
    # when set, the endpoint, region and keys. A prefix keeps several instances in one bucket.
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    # Blob GETs answer 307 to a presigned URL valid this long, so bytes flow from the store.
    s3_redirect: bool = False
    s3_redirect_seconds: int = Field(default=1200, ge=60, le=7 * 24 * 3600)
    # Multipart part size of uploads (S3's minimum is 5 MiB; 10,000 parts make the largest blob).
    s3_part_size: int = Field(default=8 * 1024 * 1024, ge=5 * 1024 * 1024, le=5 * 1024**3)
    # Behind nginx with the folder backend: blob GETs and HEADs, once access is checked, answer
    # with X-Accel-Redirect: <this prefix><path under the storage folder>, and nginx sends the
    # file itself (sendfile, ranges) from an `internal` location aliased to <data_dir>/storage/
    # (deploy/nginx.conf). Empty: Dockyard sends the bytes. Never with DOCKYARD_STORAGE=s3.
    accel_redirect: str = ""
    workers: int = Field(default=1, ge=1, le=64)
    server: Literal["granian", "uvicorn"] = "granian"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Largest manifest accepted on PUT (the spec suggests at least 4 MiB).
    max_manifest_bytes: int = 4 * 1024 * 1024
    # Largest request body of the JSON API, the pages, the build API and registry requests other
    # than blob uploads (which stream) and manifests (max_manifest_bytes); see dockyard/bodies.py.
    max_body_bytes: int = Field(default=1024 * 1024, ge=64 * 1024, le=1024 * 1024 * 1024)
    # Smallest chunk we ask clients to send (OCI-Chunk-Min-Length).
    chunk_min_length: int = 0
    # Upload sessions untouched for this long are removed by the janitor.
    upload_ttl_seconds: int = 24 * 3600
    # Garbage collection (registry/gc.py): the janitor collects every gc_interval_seconds (0: never;
    # `dockyard gc` still does), sparing blobs and manifests pushed, linked or checked (HEAD)
    # within the last gc_grace_seconds.
    gc_interval_seconds: float = Field(default=3600.0, ge=0)
    gc_grace_seconds: float = Field(default=3600.0, ge=0)
    # The janitor applies the retention policies (hub/retention.py) this often; 0: only the CLI.
    retention_interval_seconds: float = Field(default=86400.0, ge=0)
    # Room kept free in the data folder (a reserve file) so that deletes work on a full disk;
    # pushes are refused while it cannot be kept. 0 turns the reserve off.
    disk_reserve_bytes: int = Field(default=32 * 1024 * 1024, ge=0)

    # -- authentication (Docker token auth) ----------------------------------------------
    # "token": every /v2/ request needs a bearer token from /token (the hub's behaviour);
    # "none": an open registry, as the pure-protocol test suites run it.
    auth: Literal["token", "none"] = "token"
    # The externally visible base URL (https://hub.example.com); empty means from each
    # request's scheme and Host header. The token realm is "<public_url>/token".
    public_url: str = ""
    # The "service" named in challenges and the audience (aud) of every token.
    token_service: str = "dockyard"
    token_issuer: str = "dockyard"
    token_ttl_seconds: int = Field(default=300, ge=30, le=24 * 3600)
    # Refresh tokens (docker stores them as an identity token at login); revocable per account or PAT.
    refresh_token_ttl_seconds: int = Field(default=90 * 24 * 3600, ge=60)
    # Accepted clock difference between issuer and verifier when checking exp/nbf/iat.
    token_leeway_seconds: int = Field(default=60, ge=0, le=600)

    # -- pull rate limits (manifest GETs per window; 0 = unlimited, the default) -----------
    pull_limit_anonymous: int = Field(default=0, ge=0)
    pull_limit_authenticated: int = Field(default=0, ge=0)
    pull_limit_window_seconds: int = Field(default=21600, ge=1)

    # -- login throttling: this many failures within the window lock the account (or the IP,
    # which gets more, as people behind one NAT or proxy share it) out for the lockout ----
    login_max_failures: int = Field(default=10, ge=1)
    login_ip_max_failures: int = Field(default=100, ge=1)
    login_failure_window_seconds: int = Field(default=300, ge=1)
    login_lockout_seconds: int = Field(default=300, ge=1)

    # -- sign-up and creation limits: each limit counts acts within a sliding window; 0 = no limit --
    # "closed": the sign-up page says so and refuses; administrators still create users with the CLI.
    signup: Literal["open", "closed"] = "open"
    # Sign-ups per client address (IPv6: per /64, what one host is usually given) per window.
    signup_limit_per_address: int = Field(default=10, ge=0)
    signup_limit_window_seconds: int = Field(default=3600, ge=1)
    # Repositories one user creates (pushes into new names, the web page, the API) per window,
    # and the most repositories one namespace may hold. Administrators and the CLI are exempt.
    repository_limit_per_user: int = Field(default=100, ge=0)
    repository_limit_window_seconds: int = Field(default=3600, ge=1)
    repository_limit_per_namespace: int = Field(default=10_000, ge=0)

    # -- secrets at rest: the key that seals webhook and build secrets in the database. Empty means
    # <data_dir>/keys/secrets.key; point it elsewhere (another volume, a secrets mount) to keep the
    # key apart from the database's backups.
    secrets_key_file: str = ""
    # The key that signs registry, hub API and build push tokens (EC P-256, PEM). Empty means
    # <data_dir>/auth/token-signing-key.pem, made at first start; replicas behind one load balancer
    # point this at one shared file, so a token from any of them is good at all of them.
    token_signing_key_file: str = ""

    # -- hub JSON API ---------------------------------------------------------------------------
    # Lifetime of the JWT from POST /v2/users/login; the account (and PAT) is re-checked on every use.
    api_token_ttl_seconds: int = Field(default=24 * 3600, ge=60, le=30 * 24 * 3600)

    # -- webhook delivery: per attempt at most webhook_timeout_seconds; the first retry waits
    # webhook_retry_base_seconds, each next one twice as long (capped); then the delivery fails.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    webhook_retry_base_seconds: float = Field(default=10.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1, le=100)
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # Deliveries to loopback, private and link-local addresses (cloud metadata addresses never).
    webhook_allow_private: bool = False

    # -- pull-through cache (`dockyard proxy`): upstream registries on loopback, private or
    # link-local addresses (checked on every connection, redirects and token realms included);
    # cloud metadata addresses never. Connect and read timeout of every upstream request.
    proxy_allow_private: bool = False
    proxy_timeout_seconds: float = Field(default=30.0, gt=0, le=600)

    # -- background work (dockyard/background.py): the roles `dockyard serve` runs itself, "all"
    # (the default), "none" (a `dockyard worker` does them), or a comma-separated list of roles.
    background: str = "all"

    # -- automated builds (DOCKYARD_BUILD_*) ---------------------------------------------------
    builds: BuildSettings = Field(default_factory=BuildSettings)

    @model_validator(mode="after")
    def _storage_complete(self) -> Settings:
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("DOCKYARD_STORAGE=s3 needs DOCKYARD_S3_BUCKET")
        if self.storage == "s3" and self.accel_redirect:
            raise ValueError(
                "DOCKYARD_ACCEL_REDIRECT has nginx send files of the folder backend; with "
                "DOCKYARD_STORAGE=s3 there is no local file (DOCKYARD_S3_REDIRECT sends clients to the store)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Options, then the environment, then the TOML file (DOCKYARD_CONFIG), then defaults."""
        path = os.environ.get(CONFIG_ENV, "").strip()
        if not path:
            return init_settings, env_settings
        file = Path(path).expanduser()
        if not file.is_file():
            raise ConfigFileMissing(f"configuration file {file} not found (--config / {CONFIG_ENV})")
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=file)

    @field_validator("accel_redirect")
    @classmethod
    def _accel_prefix(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"/(?:(?!\.\.?/)[A-Za-z0-9._~-]+/)+", value):
            raise ValueError(
                f"accel_redirect must be a location path that starts and ends with '/', "
                f"such as /internal-blobs/ (got {value!r})"
            )
        return value

    @field_validator("background")
    @classmethod
    def _roles(cls, value: str) -> str:
        parse_roles(value)  # a ValueError names the unknown role
        return value.strip()

    @property
    def background_roles(self) -> frozenset[str]:
        """What `dockyard serve` runs: DOCKYARD_BACKGROUND, less builds when
        DOCKYARD_BUILD_EMBEDDED_WORKER is false (the older switch, still honoured)."""
        roles = parse_roles(self.background)
        return roles if self.builds.embedded_worker else roles - {"builds"}

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("public_url must start with http:// or https://")
        return value

    @property
    def secrets_key_path(self) -> Path:
        if self.secrets_key_file:
            return Path(self.secrets_key_file).expanduser().resolve()
        return self.data_dir / SECRETS_KEY_FILE

    @property
    def token_signing_key_path(self) -> Path | None:
        if not self.token_signing_key_file:
            return None
        return Path(self.token_signing_key_file).expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'dockyard.db'}"

    @property
    def base_url(self) -> str:
        """Dockyard's own address for links that leave it (webhook payloads, printed URLs)."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def storage_root(self) -> Path:
        return self.data_dir / "storage"

    # -- the server process: access log and proxies ----------------------------------------------
    # One line per request on stderr: "plain" text, "json" (an object per line) or "off".
    access_log: Literal["off", "plain", "json"] = "plain"
    # Peers whose X-Forwarded-For is believed: addresses or CIDRs, comma-separated. Empty (the
    # default): none, and the client address is the TCP peer's whatever the headers say.
    trusted_proxies: str = ""

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        """Normalised ("10.0.0.0/8,::1/128"), so worker processes parse the same list."""
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        try:
            return ",".join(str(ipaddress.ip_network(entry, strict=False)) for entry in entries)
        except ValueError as exc:
            raise ValueError(f"trusted_proxies: {exc}") from None

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(entry) for entry in self.trusted_proxies.split(",") if entry)
