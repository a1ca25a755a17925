"""Typed configuration, validated once at start-up.

Values come from CLI options, then ``DOCKYARD_*`` environment variables, then defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCKYARD_", extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=5000, ge=0, le=65535)
    data_dir: Path = Path("./dockyard-data")
    # Metadata database URL; empty means SQLite inside data_dir.
    database_url: str = ""
    storage: Literal["filesystem"] = "filesystem"
    workers: int = Field(default=1, ge=1, le=64)
    server: Literal["granian", "uvicorn"] = "granian"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Largest manifest accepted on PUT (the spec suggests at least 4 MiB).
    max_manifest_bytes: int = 4 * 1024 * 1024
    # Smallest chunk we ask clients to send (OCI-Chunk-Min-Length).
    chunk_min_length: int = 0
    # Upload sessions untouched for this long are removed by the janitor.
    upload_ttl_seconds: int = 24 * 3600

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'dockyard.db'}"

    @property
    def storage_root(self) -> Path:
        return self.data_dir / "storage"
