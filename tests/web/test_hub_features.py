"""The repository pages of issue 14 in a real browser: the image page (digest with a copy button,
platform, size, layers with their Dockerfile instructions, the run config, referrers), the Tags
page's page numbers, page size and bulk delete, the pull command naming a tag that exists, the
README editor's live preview, forms that redirect (a reload adds nothing), unique webhook names,
and a webhook's test, attempts and redelivery against a real receiver."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from dockyard.web.templating import human_size
from tests.api.helpers import Receiver, eventually, signature
from tests.conftest import DockyardServer, Server
from tests.inprocess import ThreadedDockyard
from tests.web.conftest import PASSWORD, WebClient
from tests.web.registry_client import RegistryClient
from tests.web.world import HISTORY, LAYERS, SIGNATURE, World, build_world, signed_in

# Webhooks reach loopback receivers in these tests; retries come after a second, not ten.
SERVER_ENV = {"DOCKYARD_WEBHOOK_ALLOW_PRIVATE": "true", "DOCKYARD_WEBHOOK_RETRY_BASE_SECONDS": "1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, template_database: Path) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("web-features") / "data"
    with ThreadedDockyard(data, env=SERVER_ENV, template=template_database) as running:
        yield running


@pytest.fixture(scope="module")
def world(server: DockyardServer) -> World:
    return build_world(server)


@pytest.fixture
def owner(browser: Browser, world: World) -> Iterator[Page]:
    context, page = signed_in(browser, world, "owner")
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    yield page
    context.close()


@pytest.fixture
def anonymous(browser: Browser, world: World) -> Iterator[Page]:
    context, page = signed_in(browser, world, "anonymous")
    yield page
    context.close()


def test_tags_link_each_digest_to_its_image_page(anonymous: Page, world: World) -> None:
    page = anonymous
    page.goto(f"/r/{world.app}/tags?name=v1")
    page.get_by_role("link", name=re.compile(world.image.digest[7:19])).click()
    page.wait_for_url(f"**/images/{world.image.digest}?tag=v1")
    expect(page.locator("#image-digest")).to_have_text(world.image.digest)
    expect(page.get_by_role("button", name="Copy the digest")).to_have_attribute(
        "data-copy", world.image.digest
    )
    expect(page.locator(".platform-badge")).to_have_text("linux/arm64/v8")
    expect(page.locator("#image-size")).to_have_text(human_size(world.image.size))
    steps = page.locator(".layer-list li")
    expect(steps.locator(".instruction")).to_have_text(
        ["ADD file:2a94 in /", "ENV APP_MODE=production", "RUN /bin/sh -c apk add --no-cache curl",
         'CMD ["app", "--serve"]'],
    )  # fmt: skip
    assert len(HISTORY) == 4
    expect(steps.nth(0).locator(".size")).to_have_text(human_size(len(LAYERS[0])))
    expect(steps.nth(1)).to_contain_text("no layer")
    expect(steps.nth(2).locator(".size")).to_have_text(human_size(len(LAYERS[1])))
    facts = page.locator(".config-facts")
    expect(facts).to_contain_text('["/entry.sh"]')
    expect(facts).to_contain_text('["app", "--serve"]')
    expect(facts).to_contain_text("8080/tcp, 9090/udp")
    expect(page.locator(".env-list li")).to_have_text(["PATH=/usr/bin:/bin", "APP_MODE=production"])
    expect(page.locator("table.labels")).to_contain_text("https://example.com/app")
    referrer = page.locator("table.referrers tbody tr")
    expect(referrer).to_have_count(1)
    expect(referrer).to_contain_text("Signature (cosign)")
    expect(referrer).to_contain_text(SIGNATURE)
    referrer.get_by_role("link").click()
    page.wait_for_url(f"**/images/{world.signature}")
    expect(page.get_by_role("heading", name="Artifact")).to_be_visible()


def test_an_index_page_lists_its_platforms(anonymous: Page, world: World) -> None:
    page = anonymous
    page.goto(f"/r/{world.app}/tags?name=multi")
    page.locator(".tag-meta").get_by_role("link", name=world.index[7:19]).click()
    page.wait_for_url(f"**/images/{world.index}?tag=multi")
    rows = page.locator("table.platforms tbody tr")
    expect(rows.locator("td.platform")).to_have_text(["linux/amd64", "linux/arm/v7"])
    expect(rows.locator("td.size")).to_have_text([human_size(p.size) for p in world.platforms])
    rows.nth(1).get_by_role("link").click()
    expect(page.locator(".platform-badge")).to_have_text("linux/arm/v7")
    expect(page.locator(".image-nav")).to_contain_text(world.index[7:19])


def test_the_copy_button_copies_the_digest(owner: Page, world: World) -> None:
    owner.goto(f"/r/{world.app}/images/{world.image.digest}")
    owner.get_by_role("button", name="Copy the digest").click()
    expect(owner.get_by_role("button", name="Copy the digest")).to_have_text("Copied")
    assert owner.evaluate("() => navigator.clipboard.readText()") == world.image.digest


def test_tags_pages_have_numbers_sizes_and_bulk_delete(owner: Page, world: World) -> None:
    page = owner
    registry = RegistryClient(world.server, world.owner, PASSWORD)
    made = WebClient(world.server)
    made.post("/login", {"username": world.owner, "password": PASSWORD})
    made.post("/repository/create", {"namespace": world.owner, "name": "many", "visibility": "public"})
    made.close()
    base = registry.image(f"{world.owner}/many", "t00", "linux", "amd64")
    registry.tag_many(f"{world.owner}/many", base, [f"t{n:02d}" for n in range(1, 23)])
    tags = f"/r/{world.owner}/many/tags"

    page.goto(f"{tags}?sort=name")
    page.get_by_label("Tags per page").select_option("10")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("li.tag-card")).to_have_count(10)
    pager = page.get_by_role("navigation", name="Pages")
    expect(pager.locator("ul a")).to_have_text(["1 (this page)", "Page 2", "Page 3"])
    pager.get_by_role("link", name="Page 3").click()
    expect(page.locator("li.tag-card h2")).to_have_text(["t20", "t21", "t22"])
    assert "size=10" in page.url and "sort=name" in page.url

    page.goto(f"{tags}?size=10&page=9")
    expect(page.get_by_text("No tags yet")).to_have_count(0)
    expect(page.locator(".past-last")).to_contain_text("Page 9 is past the last page")
    page.locator(".past-last").get_by_role("link").click()
    expect(page.locator("li.tag-card")).to_have_count(3)

    page.goto(f"{tags}?sort=name")
    bulk = page.get_by_role("button", name="Delete selected tags")
    expect(bulk).to_be_disabled()
    page.get_by_label("Select tag t01").check()
    page.get_by_label("Select tag t02").check()
    page.once("dialog", lambda dialog: dialog.accept())
    bulk.click()
    page.wait_for_url(f"**{tags}")
    expect(page.get_by_role("status").first).to_contain_text("Deleted 2 tags: t01, t02.")
    expect(page.get_by_text("21 tags")).to_be_visible()
    page.get_by_label("Select all on this page").check()
    expect(page.locator("input.tag-select:checked")).to_have_count(21)


def test_the_pull_command_names_a_tag_that_exists(anonymous: Page, world: World) -> None:
    page = anonymous
    page.goto(f"/r/{world.app}")
    command = f"docker pull {world.server.host}/{world.app}:multi"  # the newest; there is no latest
    expect(page.locator("#pull-command")).to_have_text(command)
    expect(page.get_by_role("button", name="Copy the docker pull command")).to_have_attribute(
        "data-copy", command
    )
    RegistryClient(world.server, world.owner, PASSWORD).tag_many(world.app, world.image, ["latest"])
    page.reload()
    expect(page.locator("#pull-command")).to_have_text(f"docker pull {world.server.host}/{world.app}:latest")
    page.set_viewport_size({"width": 390, "height": 844})
    box = page.locator("#pull-command")
    assert box.evaluate("el => el.scrollWidth <= el.clientWidth"), "the pull command does not wrap"


def test_the_readme_editor_previews_live_and_safely(owner: Page, world: World) -> None:
    page = owner
    page.goto(f"/r/{world.app}")
    page.get_by_role("link", name="Edit the README").click()
    page.wait_for_url(f"**/r/{world.app}/readme/edit")
    editor = page.get_by_label("README (Markdown)")
    editor.fill(
        "# Changed\n\n> quoted **words**\n\n"
        "<details>\n<summary>Folded part</summary>\n\nInside.\n\n</details>\n\n"
        '<script>window.__xss = 1</script>\n<img src=x onerror="window.__xss = 2">\n'
        '<details ontoggle="window.__xss = 3" open>\n'
    )
    preview = page.locator("#readme-preview")
    expect(preview.locator("blockquote strong")).to_have_text("words")
    expect(preview.locator("details summary")).to_have_text("Folded part")
    expect(preview.locator("script, img, [ontoggle]")).to_have_count(0)
    preview.locator("summary").click()
    expect(preview.locator("details").first).to_contain_text("Inside.")
    assert page.evaluate("() => window.__xss") is None
    page.get_by_role("button", name="Save README").click()
    page.wait_for_url(f"**/r/{world.app}")
    expect(page.get_by_role("status").first).to_contain_text("README saved")
    expect(page.locator(".markdown h2")).to_have_text("Changed")
    expect(page.locator(".markdown details summary")).to_have_text("Folded part")
    assert page.evaluate("() => window.__xss") is None


def test_forms_redirect_so_a_reload_adds_nothing(owner: Page, world: World) -> None:
    page = owner
    page.goto("/settings/tokens")
    page.get_by_label("Description").fill("reload-me")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url("**/settings/tokens")
    expect(page.locator("#new-token")).to_contain_text("dckr_pat_")
    page.reload()
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.locator("tbody tr", has_text="reload-me")).to_have_count(1)

    hooks = f"/r/{world.app}/settings/webhooks"
    page.goto(hooks)
    page.get_by_label("Name", exact=True).fill("Deploy")
    page.get_by_label("URL").fill("https://deploy.example.com/hook")
    page.get_by_role("button", name="Add webhook").click()
    page.wait_for_url(f"**{hooks}")
    page.reload()
    expect(page.locator('.hook-card[data-hook="Deploy"]')).to_have_count(1)
    page.get_by_label("Name", exact=True).fill("deploy")
    page.get_by_label("URL").fill("https://other.example.com/hook")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator("#webhooks-error")).to_contain_text("already has a webhook named 'deploy'")
    expect(page.get_by_label("URL")).to_have_value("https://other.example.com/hook")  # kept what was typed
    expect(page.locator(".hook-card")).to_have_count(1)


def test_every_form_that_changes_something_answers_with_a_redirect(world: World) -> None:
    """Post/redirect/get, checked on the wire: each successful POST is a 303 to a page."""
    client = WebClient(world.server)
    client.post("/login", {"username": world.owner, "password": PASSWORD})
    settings, team = f"/r/{world.app}/settings", f"/r/{world.tool}/settings"
    hook = {"hook_name": "prg", "url": "https://prg.example.com/"}
    forms = [
        (f"{settings}/description", {"description": "d", "full_description": "x"}, settings),
        (f"{settings}/visibility", {"visibility": "public"}, settings),
        (f"{settings}/webhooks", hook, f"{settings}/webhooks"),
        (f"/r/{world.app}/readme", {"full_description": "# Readme"}, f"/r/{world.app}/readme/edit"),
        (f"/r/{world.app}/star", {"action": "star"}, f"/r/{world.app}"),
        (f"{team}/permissions", {"team": "devs", "permission": "read"}, f"{team}/collaborators"),
        ("/settings/general", {"full_name": "Owner", "email": ""}, "/settings/general"),
        ("/settings/tokens", {"label": "prg", "scope": "repo:read", "expires": ""}, "/settings/tokens"),
        (f"/r/{world.app}/tags/delete", {"tag": "nope"}, f"/r/{world.app}/tags"),
    ]  # fmt: skip
    for action, data, form_page in forms:
        answer = client.post(action, data, form_page=form_page)
        assert answer.status_code == 303, (action, answer.status_code, answer.text[:300])
        assert client.http.get(answer.headers["location"]).status_code == 200, action
    client.close()


def test_a_webhook_test_its_attempts_and_a_redelivery(owner: Page, world: World) -> None:
    with Receiver(statuses=[500]) as receiver:
        page = owner
        hooks = f"/r/{world.app}/settings/webhooks"
        page.goto(hooks)
        page.get_by_label("Name", exact=True).fill("receiver")
        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("Secret (optional)").fill("receiver-secret")
        page.get_by_role("button", name="Add webhook").click()
        page.get_by_role("button", name="Test webhook receiver").click()
        page.wait_for_url(re.compile(r".*/settings/webhooks/deliveries/\d+$"))
        first = page.url
        expect(page.get_by_role("status").first).to_contain_text("Test delivery queued")

        eventually(lambda: len(receiver.snapshot()) >= 2, timeout=30)  # a 500, then a retry
        attempts = page.locator("table.attempts tbody tr")
        for _ in range(20):
            page.reload()
            if attempts.count() == 2:
                break
            page.wait_for_timeout(500)
        expect(attempts.locator("td:nth-child(3)")).to_have_text(["HTTP 500", "HTTP 200"])
        sent = receiver.snapshot()[-1]
        assert sent.headers["x-dockyard-event"] == "ping"
        assert sent.headers["x-dockyard-signature-256"] == signature("receiver-secret", sent.body)
        payload = json.loads(sent.body)
        assert payload["ping"]["webhook"] == "receiver" and payload["repository"]["repo_name"] == world.app
        shown = json.loads(page.locator("pre.payload").inner_text())
        assert shown == payload

        page.get_by_role("button", name="Redeliver").click()
        page.wait_for_url(re.compile(r".*/settings/webhooks/deliveries/\d+$"))
        assert page.url != first
        eventually(lambda: len(receiver.snapshot()) >= 3, timeout=30)
        assert json.loads(receiver.snapshot()[-1].body) == payload
        page.goto(hooks)
        expect(page.locator("#deliveries tbody tr", has_text="receiver")).to_have_count(2)
