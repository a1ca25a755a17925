"""Settings of the builds domain: ``DOCKYARD_BUILD_*`` variables, validated when the app or a
worker starts. Kept apart from the core Settings so the builds domain owns its knobs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    # Where the worker's docker pushes: host:port of this Dockyard as the engine reaches it;
    # empty means the public URL's host, else 127.0.0.1:<port>.
    registry: str = ""
    docker: str = "docker"
    git: str = "git"
    # `docker build --network`; empty leaves the engine's default.
    network: str = ""
    builder: Literal["classic", "buildkit"] = "classic"
    # Links made over HTTP may name a path on this server (or file://) only when this is on:
    # otherwise anyone with push rights could build from any repository on the server's disk.
    # `dockyard build link` (run by whoever administers the server) may always.
    allow_local_sources: bool = False
