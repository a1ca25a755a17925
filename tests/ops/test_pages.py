"""The operations pages in process (create_app over httpx.ASGITransport): a repository's tag
policies tab (immutable tags, retention and a preview that lists exactly what apply deletes), a
namespace's retention page, quotas on the admin storage page and usage on the namespace page.
Each form posts and redirects back (PRG); refusals show the form again with the error."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from dockyard.app import create_app
from dockyard.config import Settings
from dockyard.migrations import upgrade
from dockyard.registry.store import tags
from dockyard.secretbox import SecretBox
from dockyard.services import Services, build_services
from tests.ops.conftest import Pusher

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Site:
    services: Services
    http: httpx.AsyncClient
    pusher: Pusher

    async def login(self, username: str) -> None:
        self.http.cookies.clear()  # whoever was logged in before
        token = CSRF.search((await self.http.get("/login")).text)
        assert token
        form = {"username": username, "password": PASSWORD, "csrf_token": token.group(1)}
        assert (await self.http.post("/login", data=form)).status_code == 303

    async def post(self, page: str, action: str, form: dict[str, str]) -> httpx.Response:
        token = CSRF.search((await self.http.get(page)).text)
        assert token, page
        return await self.http.post(action, data={**form, "csrf_token": token.group(1)})

    async def push(self, repository: str, tag: str, days_ago: float) -> None:
        await self.pusher.image(repository, tag, [os.urandom(256)])
        at = datetime.now(UTC) - timedelta(days=days_ago)
        with self.services.database.write.begin() as conn:
            conn.execute(update(tags).where(tags.c.name == tag).values(updated_at=at))


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    settings = Settings(
        data_dir=tmp_path / "data", auth="token", public_url="http://testserver", access_log="json"
    )
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.resolved_database_url, secrets=SecretBox.from_settings(settings))
    services = build_services(settings)
    transport = httpx.ASGITransport(app=create_app(settings, services), client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        await services.accounts.create_user("alice", "alice@example.com", PASSWORD)
        await services.accounts.create_user("operator", "operator@example.com", PASSWORD, admin=True)
        await services.accounts.create_user("mallory", "mallory@example.com", PASSWORD)
        yield Site(services, http, Pusher(services.registry, settings.storage_root))
    services.close()


def _doomed(html: str) -> list[str]:
    return re.findall(r'class="doomed" data-reference="([^"]+)"', html)


async def test_the_policies_tab_sets_immutable_tags_and_retention_and_previews_exactly_what_goes(
    site: Site,
) -> None:
    for n, age in enumerate([1, 10, 20]):
        await site.push("alice/app", f"v{n}", age)
    await site.login("alice")
    tab = "/r/alice/app/settings/policies"
    answer = await site.post(tab, "/r/alice/app/settings/immutable", {"immutable": "on", "rules": "v.*\n"})
    assert answer.status_code == 303 and answer.headers["location"].endswith(tab)
    assert await site.services.registry.tag_rules.get("alice/app") == ["v.*"]
    assert "immutable</strong> when they match v.*" in (await site.http.get(tab)).text

    refused = await site.post(tab, "/r/alice/app/settings/immutable", {"immutable": "on", "rules": "(?=x)"})
    assert refused.status_code == 400 and "RE2" in refused.text and "(?=x)" in refused.text

    form = {"keep_last": "1", "keep_days": "", "keep": "", "untagged_days": "", "action": "save"}
    answer = await site.post(tab, "/r/alice/app/settings/retention", form)
    assert answer.status_code == 303
    preview = _doomed((await site.http.get(f"{tab}?preview=1")).text)
    assert preview == ["alice/app:v1", "alice/app:v2"]
    deleted = await site.services.retention.apply(datetime.now(UTC))
    assert [d.reference for d in deleted] == preview

    bad = await site.post(tab, "/r/alice/app/settings/retention", {**form, "keep_last": "many"})
    assert bad.status_code == 400 and "whole number" in bad.text and 'value="many"' in bad.text
    removed = await site.post(tab, "/r/alice/app/settings/retention", {**form, "action": "remove"})
    assert removed.status_code == 303 and await site.services.retention.get("alice/app") is None


async def test_the_namespace_retention_page_and_who_may_use_it(site: Site) -> None:
    await site.push("alice/app", "old", 30)
    await site.push("alice/app", "new", 0)
    await site.login("mallory")
    assert (await site.http.get("/u/alice/retention")).status_code == 404
    await site.login("alice")
    form = {"keep_last": "", "keep_days": "7", "keep": "", "untagged_days": "3", "action": "save"}
    answer = await site.post("/u/alice/retention", "/u/alice/retention", form)
    assert answer.status_code == 303 and answer.headers["location"] == "/u/alice/retention"
    page = (await site.http.get("/u/alice/retention?preview=1")).text
    assert _doomed(page) == ["alice/app:old"]
    settings_tab = (await site.http.get("/r/alice/app/settings/policies")).text
    assert 'id="retention-inherited"' in settings_tab


async def test_administrators_set_quotas_and_the_namespace_page_shows_usage(site: Site) -> None:
    await site.push("alice/app", "v1", 0)
    await site.login("alice")
    refused = await site.post("/u/alice", "/admin/storage/quota", {"namespace": "alice", "limit": "1MB"})
    assert refused.status_code in (403, 404)
    await site.login("operator")
    bad = await site.post("/admin/storage", "/admin/storage/quota", {"namespace": "alice", "limit": "lots"})
    assert bad.status_code == 303 and await site.services.registry.uploads.quotas.limits(["alice"]) == {}
    answer = await site.post("/admin/storage", "/admin/storage/quota", {"namespace": "alice", "limit": "1MB"})
    assert answer.status_code == 303
    assert await site.services.registry.uploads.quotas.limits(["alice"]) == {"alice": 10**6}
    storage = (await site.http.get("/admin/storage")).text
    assert 'value="1000000"' in storage
    await site.login("alice")
    profile = (await site.http.get("/u/alice")).text
    used = (await site.services.registry.uploads.quotas.get("alice")).used
    assert 'id="namespace-storage"' in profile and "of 1.0 MB quota" in profile and used > 0


async def test_access_log_lines_name_the_user_and_the_route_and_keep_no_secret(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """One JSON line per request with the user a session, a registry token or an API token
    authenticated, and the route's template; the password and tokens are in no line."""
    caplog.set_level(logging.INFO, logger="dockyard.access")
    await site.push("alice/app", "v1", 0)
    await site.login("alice")
    page = await site.http.get("/r/alice/app/settings/policies")
    login = await site.http.post("/v2/users/login", json={"username": "alice", "password": PASSWORD})
    api_token = login.json()["token"]
    quota = await site.http.get(
        "/v2/namespaces/alice/quota", headers={"Authorization": f"Bearer {api_token}"}
    )
    assert quota.status_code == 200 and quota.json()["used_bytes"] > 0
    lines = {}
    for record in caplog.records:
        entry = json.loads(record.getMessage())
        lines[entry["request_id"]] = entry
    seen = lines[page.headers["x-request-id"]]
    assert seen["user"] == "alice" and seen["route"].endswith("/settings/policies") and seen["status"] == 200
    assert seen["path"] == "/r/alice/app/settings/policies" and seen["method"] == "GET"
    assert seen["duration_ms"] >= 0 and seen["bytes"] == len(page.content)
    assert lines[quota.headers["x-request-id"]]["user"] == "alice"
    assert lines[login.headers["x-request-id"]]["user"] == "-"
    text = caplog.text
    assert PASSWORD not in text and api_token not in text
