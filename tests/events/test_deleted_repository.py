"""Deleting a linked repository, on the web and through the API, removes its build link: a signed
GitHub push event (or the trigger URL) for it afterwards builds nothing, and the repository stays
deleted (issue 10). In process: ``create_app`` over ``httpx.ASGITransport``; no build runs here
(no worker), so what is asserted is what gets queued and what exists."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from dockyard.app import create_app
from dockyard.builds.models import Build, BuildLink
from dockyard.builds.rules import Rule
from dockyard.config import Settings
from dockyard.events.outbox import events
from dockyard.migrations import upgrade
from dockyard.secretbox import SecretBox
from dockyard.services import Services, build_services

PASSWORD = "correct horse battery staple"
REPOSITORY = "alice/app"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Site:
    services: Services
    http: httpx.AsyncClient


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    settings = Settings(data_dir=tmp_path / "data", auth="token", public_url="http://testserver")
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.resolved_database_url, secrets=SecretBox.from_settings(settings))
    services = build_services(settings)
    app = create_app(settings, services)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        await services.accounts.create_user("alice", "alice@example.com", PASSWORD)
        yield Site(services, http)
    services.close()


def _signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _push(commit: str) -> bytes:
    event = {
        "ref": "refs/heads/main",
        "after": commit,
        "head_commit": {"id": commit, "message": "change"},
        "repository": {"clone_url": "https://git.example.com/alice/app.git"},
    }
    return json.dumps(event).encode()


async def _github(site: Site, link_id: int, secret: str, commit: str) -> httpx.Response:
    body = _push(commit)
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": _signed(secret, body)}
    return await site.http.post(f"/api/build/hooks/{link_id}/github", content=body, headers=headers)


def _count(site: Site, table: object, where: object = None) -> int:
    query = select(func.count()).select_from(table)  # type: ignore[arg-type]
    if where is not None:
        query = query.where(where)  # type: ignore[arg-type]
    with site.services.database.read.connect() as conn:
        return int(conn.execute(query).scalar_one())


async def _delete_on_the_web(site: Site) -> None:
    page = await site.http.get("/login")
    token = CSRF.search(page.text)
    assert token, page.text
    form = {"username": "alice", "password": PASSWORD, "csrf_token": token.group(1)}
    assert (await site.http.post("/login", data=form)).status_code == 303
    settings = await site.http.get(f"/r/{REPOSITORY}/settings")
    token = CSRF.search(settings.text)
    assert token, settings.text
    form = {"confirm": REPOSITORY, "csrf_token": token.group(1)}
    answer = await site.http.post(f"/r/{REPOSITORY}/settings/delete", data=form)
    assert answer.status_code == 303, answer.text


async def _delete_through_the_api(site: Site) -> None:
    login = await site.http.post("/v2/users/login", json={"username": "alice", "password": PASSWORD})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    answer = await site.http.delete(f"/v2/repositories/{REPOSITORY}/", headers=headers)
    assert answer.status_code == 202, answer.text


@pytest.mark.anyio
@pytest.mark.parametrize("delete", [_delete_on_the_web, _delete_through_the_api], ids=["web", "api"])
async def test_a_deleted_linked_repository_builds_nothing_and_stays_deleted(
    site: Site, delete: object
) -> None:
    services = site.services
    alice = await services.accounts.authenticate("alice", PASSWORD)
    await services.hub.create_repository(alice, "alice", "app")
    made = await services.builds.service.create_link(
        REPOSITORY, "https://git.example.com/alice/app.git", [Rule()], created_by="alice"
    )
    link_id = made.link.id
    # The hook works while the repository is there: a push to main queues a build.
    queued = await _github(site, link_id, made.webhook_secret, "a" * 40)
    assert queued.status_code == 202, queued.text
    assert _count(site, Build.__table__) == 1

    await delete(site)  # type: ignore[operator]

    assert await services.accounts.get_repository(REPOSITORY) is None
    assert _count(site, BuildLink.__table__) == 0  # with its secret and trigger token
    assert _count(site, Build.__table__) == 0  # the queued build will never run
    assert _count(site, events) == 0  # every handler ran before the deletion answered
    again = await _github(site, link_id, made.webhook_secret, "b" * 40)
    assert again.status_code == 401, again.text  # as for a link that never existed
    trigger = await site.http.post(f"/api/build/trigger/{link_id}/{made.trigger_token}", json={})
    assert trigger.status_code in (401, 404), trigger.text
    assert _count(site, Build.__table__) == 0
    assert await services.accounts.get_repository(REPOSITORY) is None
    tags = await site.http.get(f"/v2/{REPOSITORY}/tags/list")
    assert tags.status_code in (401, 404)
