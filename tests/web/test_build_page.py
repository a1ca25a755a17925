"""The automated builds in the browser (issue 5): a user links a git repository on the settings
page, pushes a commit whose Dockerfile prints slowly, and watches the log arrive on the build's page
while it runs, then the final state. Real server with token auth, real git, real Docker engine."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.api.helpers import Receiver, eventually, signature
from tests.builds.conftest import BUILD_ENV, GitSource, dockerfile, dockyard_here, publish_base
from tests.conftest import Cli, DockyardServer, GitDaemon, require_tool
from tests.web.conftest import CSRF_RE, WebClient, create_repository, screenshot, sign_up, unique_name

pytestmark = pytest.mark.docker

SLOW_STEP = "RUN for i in 1 2 3 4 5 6; do echo line-$i; sleep 1; done"
LINE = re.compile(r"^line-[1-6]$", re.M)


PUBLISHER = ("basepublisher", "publisher-password-1")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, docker_cli: Cli, base_image: str
) -> Iterator[DockyardServer]:
    """Token auth (the default) with the embedded build worker; sources come from a git daemon on
    loopback, webhooks go to a receiver on loopback."""
    require_tool("git")
    env = {**BUILD_ENV, "DOCKYARD_WEBHOOK_ALLOW_PRIVATE": "true"}
    with DockyardServer(tmp_path_factory.mktemp("web-builds") / "data", env=env) as running:
        yield running


@pytest.fixture(scope="module")
def build_base(server: DockyardServer, docker_cli: Cli) -> str:
    """The base image, public in the server's registry: builds always pull it as their account."""
    name, password = PUBLISHER
    dockyard_here(server, "user", "create", name, "--password-stdin", input=password + "\n")
    return publish_base(server, docker_cli, PUBLISHER)


def link_on_settings_page(page: Page, repository: str, source: GitSource) -> tuple[str, str]:
    """Link the source with one rule (branch main -> latest); the webhook URL and its secret."""
    page.goto(f"/r/{repository}/settings/builds")
    section = page.locator("#builds")
    section.get_by_label("Git repository", exact=True).fill(source.url)
    section.get_by_label("Source name of rule 1").fill("main")
    section.get_by_label("Docker tag of rule 1").fill("latest")
    section.get_by_role("button", name="Link git repository").click()
    expect(section.get_by_role("status")).to_contain_text("shown this once")
    secret = section.locator("#new-build-secret").inner_text().strip()
    webhook = section.locator("#github-webhook-url").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{40}", secret), secret
    assert webhook.endswith("/github"), webhook
    expect(section.get_by_label("Source name of rule 1")).to_have_value("main")
    screenshot(page, "build-settings")
    return webhook, secret


def log_lines(page: Page) -> int:
    return len(LINE.findall(page.locator("#build-log").inner_text()))


def test_build_log_streams_live_and_ends_in_success(
    page: Page, tmp_path: Path, build_base: str, git_daemon: GitDaemon
) -> None:
    owner = unique_name("builder")
    sign_up(page, owner)
    create_repository(page, "app", description="Built from git")
    repository = f"{owner}/app"

    source = GitSource(tmp_path / "git", require_tool("git"), git_daemon)
    webhook, secret = link_on_settings_page(page, repository, source)
    source.hook(webhook, secret)
    source.commit({"Dockerfile": dockerfile(SLOW_STEP, base=build_base)}, "Print slowly\n\nsix lines")
    assert "dockyard: 202" in source.push("main")

    page.goto(f"/r/{repository}/builds")
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    expect(page.get_by_role("button", name="Build now")).to_be_visible()
    row = page.locator("table.builds tbody tr").first
    expect(row).to_contain_text("Print slowly")
    expect(row).to_contain_text("latest")
    row.get_by_role("link").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Build #\d+"))).to_be_visible()

    state = page.locator("#build-state [data-state]")
    expect(state).to_have_attribute("data-state", "building", timeout=60_000)
    expect(page.locator("#build-log")).to_contain_text("line-1", timeout=30_000)
    expect(page.locator("#build-commit-message")).to_have_text("Print slowly\n\nsix lines")
    expect(page.locator("#build-started")).not_to_have_text("-")  # filled in without a reload
    ticking = page.locator("#build-duration").inner_text()
    first = log_lines(page)
    assert state.get_attribute("data-state") == "building"
    time.sleep(2.5)
    second = log_lines(page)
    assert state.get_attribute("data-state") in ("building", "pushing")
    assert second > first, f"no new lines arrived while building ({first} then {second})"
    assert first < 6, "the whole log was there at once: it did not stream"
    assert page.locator("#build-duration").inner_text() not in ("-", ticking), "the duration stood still"

    expect(state).to_have_attribute("data-state", "success", timeout=120_000)
    assert log_lines(page) == 6
    expect(page.locator("#log-status")).to_contain_text("success")
    expect(page.get_by_role("button", name="Retry build")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel build")).to_be_hidden()
    screenshot(page, "build")

    page.goto(f"/r/{repository}/builds")
    expect(page.locator("table.builds tbody tr").first.locator("[data-state]")).to_have_text("success")
    screenshot(page, "builds")
    page.go_back()
    page.reload()  # the finished page: digest, retry, no stream
    expect(page.locator(".build-facts")).to_contain_text("sha256:")
    expect(page.get_by_role("button", name="Retry build")).to_be_visible()
    badge = page.get_by_role("img", name=re.compile("Build status"))
    expect(badge).to_be_visible()
    assert badge.evaluate("img => img.complete && img.naturalWidth > 0"), "the badge did not load"
    expect(page.locator("#badge-markdown")).to_contain_text(f"/api/build/badge/{repository}.svg")


def test_build_pages_follow_the_repositorys_rights(server: DockyardServer) -> None:
    """Private repositories' builds are nobody else's: history, build page and stream answer 404;
    Build now, cancel and linking need the rights the other settings need (CSRF included)."""
    owner, client = unique_name("owner"), WebClient(server)
    stranger = WebClient(server)
    try:
        client.sign_up(owner)
        token = client.csrf("/repository/create")
        made = client.http.post(
            "/repository/create",
            data={"namespace": owner, "name": "secret", "visibility": "private", "csrf_token": token},
        )
        assert made.status_code == 303, made.text
        base = f"/r/{owner}/secret"
        assert client.http.get(f"{base}/builds").status_code == 200
        own_badge = client.http.get(f"{base}/builds/badge.svg")
        assert own_badge.status_code == 200 and "build: none" in own_badge.text
        refused = client.http.post(f"{base}/settings/builds", data={"source_url": "/tmp/x"})
        assert refused.status_code == 403  # no CSRF token
        bad = client.post(
            f"{base}/settings/builds",
            {"source_url": "/tmp/x", "source_type": "branch", "source_name": "/[/", "docker_tag": "latest"},
            form_page=f"{base}/settings",
        )
        assert bad.status_code == 400 and "bad regular expression" in bad.text
        stranger.sign_up(unique_name("other"))
        for path in (
            f"{base}/builds",
            f"{base}/builds/1",
            f"{base}/builds/1/stream",
            f"{base}/builds/badge.svg",
        ):
            assert stranger.http.get(path).status_code == 404, path
        found = CSRF_RE.search(stranger.http.get("/").text)
        assert found
        now = stranger.http.post(f"{base}/builds/trigger", data={"csrf_token": found.group(1)})
        assert now.status_code == 404
        anonymous = httpx.get(f"{server.url}{base}/builds", follow_redirects=False)
        assert anonymous.status_code in (303, 404)
    finally:
        client.close()
        stranger.close()


def test_build_events_reach_the_repositorys_webhooks(
    server: DockyardServer, tmp_path: Path, build_base: str, git_daemon: GitDaemon
) -> None:
    """A build's start and end are POSTed to the repository's webhooks, signed like its pushes, with
    build_data next to the usual repository block: a good commit succeeds, a broken one fails."""
    owner, client = unique_name("hooks"), WebClient(server)
    with Receiver() as receiver:
        try:
            client.sign_up(owner)
            token = client.csrf("/repository/create")
            data = {"namespace": owner, "name": "app", "visibility": "public", "csrf_token": token}
            assert client.http.post("/repository/create", data=data).status_code == 303
            base = f"/r/{owner}/app"
            hook = {"hook_name": "ci", "url": receiver.url, "secret": "build-hook-secret"}
            added = client.post(f"{base}/settings/webhooks", hook, form_page=f"{base}/settings")
            assert added.status_code == 303, added.text
            source = GitSource(tmp_path / "git", require_tool("git"), git_daemon)
            rule = {"source_type": "branch", "source_name": "main", "docker_tag": "latest"}
            linked = client.post(
                f"{base}/settings/builds",
                {"source_url": source.url, **rule},
                form_page=f"{base}/settings",
            )
            assert linked.status_code == 303, linked.text  # to the Builds tab, the secret in the flash
            shown = client.http.get(linked.headers["location"]).text
            secret = re.search(r'id="new-build-secret" class="command">([0-9a-f]+)<', shown)
            webhook = re.search(r'id="github-webhook-url" class="command">([^<]+)<', shown)
            assert secret and webhook
            source.hook(webhook.group(1), secret.group(1))
        finally:
            client.close()

        source.commit({"Dockerfile": dockerfile('CMD ["true"]', base=build_base)}, "good")
        source.push("main")
        events = eventually(lambda: _build_events(receiver, 2), timeout=120)
        source.commit({"Dockerfile": dockerfile("RUN exit 3", base=build_base)}, "broken")
        source.push("main")
        events = eventually(lambda: _build_events(receiver, 4), timeout=120)

    for received in receiver.snapshot():
        assert received.headers["x-dockyard-signature-256"] == signature("build-hook-secret", received.body)
    names = [(e["build_data"]["id"], e["build_data"]["event"]) for e in events]
    first, second = names[0][0], names[2][0]
    assert names == [
        (first, "build_started"), (first, "build_succeeded"),
        (second, "build_started"), (second, "build_failed"),
    ]  # fmt: skip
    done = events[1]
    assert done["build_data"]["state"] == "success" and done["build_data"]["tags"] == ["latest"]
    assert done["build_data"]["digest"].startswith("sha256:")
    assert done["build_data"]["source_ref"] == "main" and len(done["build_data"]["commit"]) == 40
    assert done["build_data"]["build_url"] == f"{server.url}/r/{owner}/app/builds/{first}"
    assert done["repository"]["repo_name"] == f"{owner}/app"
    assert events[3]["build_data"]["state"] == "failed" and events[3]["build_data"]["error"]


def _build_events(receiver: Receiver, count: int) -> list[dict[str, Any]] | None:
    """Build events received, in the order they were queued (a batch is sent concurrently)."""
    found = sorted(
        (r for r in receiver.snapshot() if r.headers.get("x-dockyard-event", "").startswith("build_")),
        key=lambda r: int(r.headers["x-dockyard-delivery"]),
    )
    return [json.loads(r.body) for r in found] if len(found) >= count else None
