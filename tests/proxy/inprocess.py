"""Dockyard in this process (create_app over httpx's ASGI transport), for proxy tests that need
no real client: no server start, settings and services at hand.

    async with dockyard(tmp_path, auth="none") as (client, services): ...
    await token(client, "repository:up/x:pull", ("alice", PASSWORD))  -> "Bearer ..."
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from dockyard import datadir
from dockyard.app import create_app
from dockyard.config import Settings
from dockyard.services import Services, build_services

PASSWORD = "correct horse battery staple"


@contextlib.asynccontextmanager
async def dockyard(data: Path, **settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    config = Settings(data_dir=data, **settings)
    datadir.prepare(config, create=True)
    services = build_services(config)
    app = create_app(config, services)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:5000") as client:
            yield client, services
    finally:
        await services.proxy.cache.close()
        services.close()


async def token(client: httpx.AsyncClient, scope: str, login: tuple[str, str] | None = None) -> str:
    answer = await client.get("/token", params={"service": "dockyard", "scope": scope}, auth=login)
    assert answer.status_code == 200, answer.text
    return f"Bearer {answer.json()['token']}"


def granted(bearer: str) -> list[dict[str, Any]]:
    """The access a registry token grants (its claims, read without verifying)."""
    payload = bearer.split()[1].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    access: list[dict[str, Any]] = claims.get("access", [])
    return access
