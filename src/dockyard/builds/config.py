"""Settings of the builds domain: ``DOCKYARD_BUILD_*`` variables, validated when the app or a
worker starts. Kept apart from the core Settings so the builds domain owns its knobs."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REMOVED = {
    "DOCKYARD_BUILD_ALLOW_LOCAL_SOURCES": (
        "local paths are no longer build sources; serve the repository with `git daemon` or over "
        "https/ssh, and set DOCKYARD_BUILD_ALLOW_PRIVATE_SOURCES=true if it is on this machine or network"
    ),
    "DOCKYARD_BUILD_DOCKER": "builds talk to the engine's API; set DOCKYARD_BUILD_DOCKER_HOST instead",
    "DOCKYARD_BUILD_BUILDER": "builds use the engine's classic builder through its API",
}


class BuildSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCKYARD_BUILD_", frozen=True)

    # Run a worker inside every `dockyard serve` process (as Docker Hub's single-box setup would).
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
