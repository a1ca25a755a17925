"""The pages in a real browser: what they show, that every control has a label and keyboard focus
is visible, that private repositories look missing, that descriptions cannot run script, that the
settings and access-token pages work, and that phones get a readable layout. Screenshots of each
page go to test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from dockyard.web.templating import human_size
from tests.conftest import DockyardServer
from tests.web.conftest import PASSWORD, WebClient, log_in, screenshot, unique_name
from tests.web.registry_client import RegistryClient

README = """# Public app

Run it:

```sh
docker run --rm public-app
```

<script>window.__xss = "script"</script>
<img src="x" onerror="window.__xss = 'onerror'">
[click me](javascript:window.__xss='link')
[docs](https://example.com/docs)

| flag | meaning |
|------|---------|
| -v   | verbose |
"""

# Every visible form control needs an accessible name: a <label>, aria-label or aria-labelledby.
UNLABELLED_JS = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.type !== 'hidden')
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML)"""
FOCUS_JS = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const label = el.getAttribute('aria-label') || (el.labels && el.labels[0] && el.labels[0].innerText)
                || el.innerText || el.value || '';
  return {tag: el.tagName, label: label.trim(), outline: style.outlineStyle, width: style.outlineWidth};
}"""


@dataclass
class Site:
    server: DockyardServer
    owner: str
    other: str
    index_digest: str
    platforms: list[tuple[str, str, int]]  # (platform, digest, size) of the index's images

    @property
    def public(self) -> str:
        return f"{self.owner}/public-app"

    @property
    def private(self) -> str:
        return f"{self.owner}/private-app"


@pytest.fixture(scope="module")
def site(server: DockyardServer) -> Iterator[Site]:
    owner, other = unique_name("owner"), unique_name("other")
    for name in (owner, other):
        client = WebClient(server)
        client.sign_up(name)
        if name == owner:
            for repo, visibility in (("public-app", "public"), ("private-app", "private")):
                created = client.post(
                    "/repository/create",
                    {
                        "namespace": owner,
                        "name": repo,
                        "description": f"The {visibility} app",
                        "full_description": README,
                        "visibility": visibility,
                    },
                )
                assert created.status_code == 303, created.text
        client.close()
    registry = RegistryClient(server, owner, PASSWORD)
    registry.image(f"{owner}/public-app", "single", "linux", "amd64")
    digest, images = registry.index(
        f"{owner}/public-app", "multi", [("linux", "amd64", None), ("linux", "arm64", "v8")]
    )
    yield Site(server, owner, other, digest, [(i.platform, i.digest, i.size) for i in images])


@pytest.fixture
def owner_page(browser: Browser, site: Site) -> Iterator[Page]:
    """The owner, signed in, in a browser context of its own (``page`` stays anonymous)."""
    context = browser.new_context(base_url=site.server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    log_in(page, site.owner)
    yield page
    context.close()


def test_every_page_has_labels_one_h1_and_a_screenshot(page: Page, owner_page: Page, site: Site) -> None:
    anonymous = {"explore": "/explore", "sign-up": "/signup", "log-in": "/login", "home": "/"}
    signed_in = {
        "search": "/search?q=app",
        "user": f"/u/{site.owner}",
        "create-repository": "/repository/create",
        "repository-index": f"/r/{site.public}",
        "tags-multi-platform": f"/r/{site.public}/tags",
        "settings": f"/r/{site.public}/settings",
        "access-tokens": "/settings/tokens",
        "not-found": "/r/nobody/nothing",
    }
    for pages, browser_page in ((anonymous, page), (signed_in, owner_page)):
        for name, path in pages.items():
            browser_page.goto(path)
            assert browser_page.evaluate(UNLABELLED_JS) == [], f"unlabelled controls on {path}"
            expect(browser_page.locator("h1")).to_have_count(1)
            expect(browser_page.locator("html")).to_have_attribute("lang", "en")
            expect(browser_page.locator('meta[name="viewport"]')).to_have_count(1)
            screenshot(browser_page, name)


def test_multi_platform_tags_show_every_platform_with_its_size(owner_page: Page, site: Site) -> None:
    page = owner_page
    page.goto(f"/r/{site.public}/tags?sort=name")
    names = page.locator("li.tag-card h2").all_inner_texts()
    assert names == ["multi", "single"]
    card = page.locator('li.tag-card[data-tag="multi"]')
    expect(card.locator(".tag-meta code")).to_have_text(site.index_digest.removeprefix("sha256:")[:12])
    rows = card.locator("tbody tr")
    expect(rows).to_have_count(2)
    for row, (platform, digest, size) in zip(rows.all(), site.platforms, strict=True):
        expect(row.locator("td.platform")).to_have_text(platform)
        expect(row.locator("code.digest")).to_have_attribute("title", digest)
        expect(row.locator("td.size")).to_have_text(human_size(size))
    page.get_by_label("Filter tags").fill("sin")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("li.tag-card h2")).to_have_text(["single"])
    expect(page.locator('li.tag-card[data-tag="single"] td.platform')).to_have_text("linux/amd64")


def test_keyboard_reaches_the_main_actions_with_visible_focus(owner_page: Page, site: Site) -> None:
    page = owner_page
    page.goto(f"/r/{site.public}/tags")
    page.keyboard.press("Tab")
    first = page.evaluate(FOCUS_JS)
    assert first["label"] == "Skip to main content" and first["outline"] != "none"
    assert page.locator(".skip-link").bounding_box()["y"] >= 0  # type: ignore[index]  # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS_JS)
        assert focus["outline"] != "none" and focus["width"] != "0px", f"focus not visible on {focus}"
        reached.append(focus["label"])
        if any(label.startswith("Copy the pull command") for label in reached):
            break
    for wanted in ("Star", "Tags", "Settings", "Filter tags", "Sort by", "Apply"):
        assert any(label.endswith(wanted) for label in reached), (wanted, reached)
    assert any(label.startswith("Delete") for label in reached), reached
    assert reached[-1].startswith("Copy the pull command"), reached


def test_descriptions_render_markdown_but_never_script(page: Page, site: Site) -> None:
    page.goto(f"/r/{site.public}")
    readme = page.locator(".markdown")
    expect(readme.locator("h2")).to_have_text("Public app")
    expect(readme.locator("pre code")).to_contain_text("docker run --rm public-app")
    expect(readme.locator("table td").first).to_have_text("-v")
    expect(readme.locator('a[href="https://example.com/docs"]')).to_have_attribute(
        "rel", "nofollow noopener noreferrer"
    )
    assert page.evaluate("() => window.__xss") is None
    expect(readme.locator("script, img[onerror], a[href^='javascript']")).to_have_count(0)
    expect(readme).to_contain_text("<script>")  # shown as text, harmless


def test_private_repositories_look_missing(browser: Browser, site: Site) -> None:
    context = browser.new_context(base_url=site.server.url)
    page = context.new_page()
    for path in (f"/r/{site.private}", f"/r/{site.private}/tags", f"/r/{site.owner}/never-created"):
        response = page.goto(path)
        assert response is not None and response.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    page.goto(f"/u/{site.owner}")
    expect(page.locator(".repo-card h3 a")).to_have_text([f"{site.public}"])
    page.goto("/search?q=app")
    assert site.private not in page.locator("main").inner_text()
    log_in(page, site.other)
    assert page.goto(f"/r/{site.private}/settings").status == 404  # type: ignore[union-attr]
    forbidden = page.goto(f"/r/{site.public}/settings")
    assert forbidden is not None and forbidden.status == 403
    context.close()


def test_star_button_toggles(owner_page: Page, site: Site) -> None:
    page = owner_page
    page.goto(f"/r/{site.public}")
    star = page.get_by_role("button", name="Star")
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(page.get_by_role("button", name="Starred")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".repo-stats")).to_contain_text("1 star")
    page.get_by_role("button", name="Starred").click()
    expect(page.locator(".repo-stats")).to_contain_text("0 stars")


def test_settings_webhooks_visibility_and_typed_delete(owner_page: Page, site: Site) -> None:
    page = owner_page
    page.goto("/repository/create")
    page.get_by_label("Repository name").fill("scratch")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(f"**/r/{site.owner}/scratch")
    page.get_by_role("link", name="Settings", exact=True).click()

    page.get_by_role("link", name="Webhooks").click()
    page.get_by_label("Name", exact=True).fill("ci")
    page.get_by_label("URL").fill("http://127.0.0.1:9/hook")
    page.get_by_role("button", name="Add webhook").click()
    page.wait_for_url(f"**/r/{site.owner}/scratch/settings/webhooks")  # redirected after the POST
    secret = page.locator("#new-hook-secret").inner_text()
    assert len(secret) >= 32
    page.reload()
    expect(page.locator("#new-hook-secret")).to_have_count(0)  # shown once
    expect(page.locator(".hook-card")).to_have_count(1)  # the reload added nothing
    expect(page.locator("#webhooks")).to_contain_text("http://127.0.0.1:9/hook")

    RegistryClient(site.server, site.owner, PASSWORD).image(f"{site.owner}/scratch", "v1", "linux", "amd64")
    for _ in range(30):  # the push is recorded (and the delivery queued) within about a second
        page.reload()
        if page.locator("#deliveries tbody tr", has_text="v1").count():
            break
        page.wait_for_timeout(500)
    expect(page.locator("#deliveries tbody tr", has_text="v1")).to_have_count(1)

    page.get_by_role("link", name="General").click()
    page.get_by_label("Private").check()
    page.get_by_role("button", name="Save visibility").click()
    expect(page.locator(".repo-header .badge.private")).to_have_text("Private")

    page.get_by_label("Short description").fill("x" * 100)
    page.get_by_role("button", name="Save description").click()
    expect(page.locator(".short-description")).to_have_text("x" * 100)

    page.get_by_role("link", name="Danger zone").click()
    delete = page.get_by_role("button", name="Delete repository")
    expect(delete).to_be_disabled()  # until the name is typed
    page.get_by_label(f"Type {site.owner}/scratch to confirm").fill(f"{site.owner}/scratch")
    expect(delete).to_be_enabled()
    delete.click()
    page.wait_for_url(f"**/u/{site.owner}")
    expect(page.get_by_role("status").first).to_contain_text(f"Repository {site.owner}/scratch was deleted")
    assert page.goto(f"/r/{site.owner}/scratch").status == 404  # type: ignore[union-attr]


def test_delete_without_the_typed_name_deletes_nothing(site: Site, web_client: WebClient) -> None:
    login = web_client.post("/login", {"username": site.owner, "password": PASSWORD})
    assert login.status_code == 303
    refused = web_client.post(
        f"/r/{site.public}/settings/delete",
        {"confirm": "public-app"},
        form_page=f"/r/{site.public}/settings/danger",
    )
    assert refused.status_code == 400 and "nothing was deleted" in refused.text
    assert web_client.http.get(f"/r/{site.public}").status_code == 200


def test_access_tokens_are_shown_once_and_revocable(owner_page: Page, site: Site) -> None:
    page = owner_page
    page.goto("/settings/tokens")
    page.get_by_label("Description").fill("laptop")
    page.get_by_label("Access permissions").select_option("repo:read")
    page.get_by_role("button", name="Generate").click()
    token = page.locator("#new-token").inner_text()
    assert token.startswith("dckr_pat_")
    granted = httpx.get(
        f"{site.server.url}/token",
        params={"service": "dockyard", "scope": f"repository:{site.private}:pull"},
        auth=(site.owner, token),
    )
    assert granted.status_code == 200
    page.goto("/settings/tokens")
    assert token not in page.content()
    row = page.locator("tbody tr", has_text="laptop")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke laptop").click()
    expect(page.locator("tbody tr", has_text="laptop")).to_contain_text("Revoked")
    refused = httpx.get(f"{site.server.url}/token", params={"service": "dockyard"}, auth=(site.owner, token))
    assert refused.status_code == 401


def test_phone_layout_has_no_sideways_scrolling(browser: Browser, site: Site) -> None:
    context = browser.new_context(
        base_url=site.server.url,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
    )
    page = context.new_page()
    for name, path in (("phone-tags", f"/r/{site.public}/tags"), ("phone-repository", f"/r/{site.public}")):
        page.goto(path)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px on a phone"
        screenshot(page, name)
    context.close()
