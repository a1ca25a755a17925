"""Every page, as each role sees it (issue 14): walked in a real browser as anonymous, owner,
member, outsider and admin, checking the status each gets, what each may see and do (the
controls that must be there and must not), one h1, a label on every control, and axe-core's
verdict in light and dark mode: no serious or critical violation. Screenshots of every page at
1366 px and at 390 px go to test-artifacts/screenshots/; on the phone no page may be wider than
the screen (document scrollWidth <= 390)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import DockyardServer
from tests.web.conftest import PASSWORD, WebClient, axe_violations, screenshot
from tests.web.world import World, build_world, signed_in

UNLABELLED_JS = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.type !== 'hidden' && !el.hidden)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML)"""
WIDTH_JS = "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"


@dataclass(frozen=True)
class Visit:
    role: str
    name: str
    path: str  # a template over the world's names
    status: int = 200
    present: tuple[str, ...] = ()  # CSS selectors that must match
    absent: tuple[str, ...] = ()  # and must not


SETTINGS_TAB = 'nav.tabs a:text-is("Settings")'
TAG_DELETE = 'form[action$="/delete"] button.danger'
EDIT_README = "a.edit-readme"
ADMIN_NAV = 'nav.site-nav a[href="/admin/users"]'

VISITS = [
    # anonymous
    Visit("anonymous", "home", "/", present=('a[href="/signup"]',), absent=(ADMIN_NAV,)),
    Visit("anonymous", "explore", "/explore"),
    Visit("anonymous", "search", "/search?q=app"),
    Visit("anonymous", "log-in", "/login"),
    Visit("anonymous", "sign-up", "/signup"),
    Visit("anonymous", "profile", "/u/{owner}", present=('nav.tabs a:text-is("Starred")',)),
    Visit("anonymous", "starred", "/u/{owner}/starred"),
    Visit(
        "anonymous", "repository", "/r/{app}", present=("#pull-command",), absent=(SETTINGS_TAB, EDIT_README)
    ),
    Visit(
        "anonymous", "tags", "/r/{app}/tags", present=("a code.digest",), absent=(TAG_DELETE, "#bulk-delete")
    ),
    Visit("anonymous", "image", "/r/{app}/images/{image}", present=(".layer-list", "#image-digest")),
    Visit("anonymous", "index", "/r/{app}/images/{index}", present=("table.platforms",)),
    Visit("anonymous", "builds", "/r/{app}/builds"),
    Visit("anonymous", "not-found", "/r/nobody/nothing", 404, present=(".error-page",)),
    Visit("anonymous", "private-hidden", "/r/{secret}", 404),
    Visit("anonymous", "settings-log-in", "/settings/general", 200, present=("#login-username",)),
    Visit("anonymous", "admin-log-in", "/admin/users", 200, present=("#login-username",)),
    # owner
    Visit("owner", "home-signed-in", "/", absent=('a[href="/signup"]', ADMIN_NAV)),
    Visit("owner", "create-repository", "/repository/create"),
    Visit("owner", "repository-owner", "/r/{app}", present=(SETTINGS_TAB, EDIT_README, "#push-command")),
    Visit(
        "owner", "readme-editor", "/r/{app}/readme/edit", present=("#readme-text", "#readme-preview details")
    ),
    Visit("owner", "tags-owner", "/r/{app}/tags", present=(TAG_DELETE, "#bulk-delete")),
    Visit("owner", "image-owner", "/r/{app}/images/{image}", present=("table.referrers",)),
    Visit("owner", "settings-general", "/r/{app}/settings", present=("#settings-description",)),
    Visit("owner", "settings-collaborators", "/r/{app}/settings/collaborators", present=("#collaborators",)),
    Visit("owner", "settings-teams", "/r/{tool}/settings/collaborators", present=("#permissions select",)),
    Visit("owner", "settings-webhooks", "/r/{app}/settings/webhooks", present=("#hook-name", ".hook-card")),
    Visit(
        "owner",
        "settings-delivery",
        "/r/{app}/settings/webhooks/deliveries/{delivery}",
        present=("pre.payload",),
    ),
    Visit("owner", "settings-builds", "/r/{app}/settings/builds", present=("#build-source-url",)),
    Visit("owner", "settings-danger", "/r/{app}/settings/danger", present=("#delete-confirm",)),
    Visit("owner", "private-owner", "/r/{secret}"),
    Visit(
        "owner",
        "account-general",
        "/settings/general",
        present=("#profile-full-name", "#delete-account-confirm"),
    ),
    Visit("owner", "account-security", "/settings/security", present=("#password-current",)),
    Visit("owner", "account-tokens", "/settings/tokens", present=("#token-label",)),
    Visit("owner", "admin-hidden-from-owner", "/admin/users", 404),
    # member of the organisation's team with write on {org}/tool
    Visit("member", "team-repository", "/r/{tool}", present=("#push-command",), absent=(SETTINGS_TAB,)),
    Visit("member", "team-tags", "/r/{tool}/tags", absent=(TAG_DELETE,)),
    Visit("member", "team-settings-refused", "/r/{tool}/settings", 403),
    Visit("member", "member-private-hidden", "/r/{secret}", 404),
    # outsider
    Visit("outsider", "outsider-repository", "/r/{app}", absent=(SETTINGS_TAB, "#push-command")),
    Visit("outsider", "outsider-settings-refused", "/r/{app}/settings", 403),
    Visit("outsider", "outsider-private-hidden", "/r/{secret}", 404),
    Visit("outsider", "outsider-team-hidden", "/r/{tool}", 404),
    Visit("outsider", "outsider-admin-hidden", "/admin/audit", 404),
    # site administrator
    Visit("admin", "admin-users", "/admin/users", present=(ADMIN_NAV, 'tr[data-user="{outsider}"]')),
    Visit("admin", "admin-audit", "/admin/audit", present=("table.audit",)),
    Visit("admin", "admin-audit-filtered", "/admin/audit?kind=repository.created", present=("table.audit",)),
    Visit("admin", "admin-storage", "/admin/storage", present=('tr[data-namespace="{owner}"]',)),
    Visit("admin", "admin-settings", "/admin/settings", present=("#signup-state",)),
    Visit("admin", "admin-sees-private", "/r/{secret}", present=(SETTINGS_TAB,)),
]
ROLES = ("anonymous", "owner", "member", "outsider", "admin")


@pytest.fixture(scope="module")
def world(server: DockyardServer) -> World:
    built = build_world(server)
    client = WebClient(server)
    assert client.post("/login", {"username": built.owner, "password": PASSWORD}).status_code == 303
    base = f"/r/{built.app}/settings/webhooks"
    hook = {"hook_name": "deploy", "url": "http://127.0.0.1:9/hook", "secret": ""}
    assert client.post(base, hook, form_page=base).status_code == 303
    hook_id = re.search(r"/webhooks/(\d+)/test", client.http.get(base).text)
    assert hook_id is not None
    tested = client.post(f"{base}/{hook_id.group(1)}/test", {}, form_page=base)
    built.delivery = tested.headers["location"].rsplit("/", 1)[1]
    client.close()
    return built


def _path(visit: Visit | str, world: World) -> str:
    text = visit.path if isinstance(visit, Visit) else visit
    names = {
        "owner": world.owner, "app": world.app, "secret": world.secret, "tool": world.tool,
        "image": world.image.digest, "index": world.index, "outsider": world.outsider,
        "delivery": world.delivery,
    }  # fmt: skip
    return text.format(**names)


@pytest.fixture(scope="module")
def pages(browser: Browser, world: World) -> Iterator[dict[str, Page]]:
    """One logged-in page per role, at 1366 px."""
    opened = {role: signed_in(browser, world, role) for role in ROLES}
    yield {role: page for role, (_, page) in opened.items()}
    for context, _ in opened.values():
        context.close()


def _check(page: Page, visit: Visit, world: World) -> None:
    path = _path(visit, world)
    response = page.goto(path)
    assert response is not None and response.status == visit.status, f"{visit.role} {path}: {response}"
    expect(page.locator("h1")).to_have_count(1)
    assert page.evaluate(UNLABELLED_JS) == [], f"unlabelled controls on {path}"
    for selector in visit.present:
        assert page.locator(_path(selector, world)).count(), f"{visit.role} {path}: no {selector}"
    for selector in visit.absent:
        assert not page.locator(_path(selector, world)).count(), f"{visit.role} {path}: {selector} shown"


def test_every_page_as_every_role(pages: dict[str, Page], world: World) -> None:
    """Statuses, controls, labels, axe in light mode, and a screenshot at 1366 px."""
    problems = []
    for visit in VISITS:
        page = pages[visit.role]
        _check(page, visit, world)
        problems += [f"{visit.role} {visit.name}: {v}" for v in axe_violations(page)]
        screenshot(page, f"{visit.name}-1366")
    assert problems == []


def test_dark_mode_keeps_contrast(browser: Browser, world: World) -> None:
    """prefers-color-scheme: dark gives dark pages, and axe finds no serious problem on any."""
    problems = []
    for role in ROLES:
        context, page = signed_in(browser, world, role, color_scheme="dark")
        for visit in (v for v in VISITS if v.role == role):
            page.goto(_path(visit, world))
            problems += [f"{role} {visit.name} (dark): {v}" for v in axe_violations(page)]
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(14, 19, 27)", background
        if role == "owner":
            page.goto(_path("/r/{app}/images/{image}", world))
            screenshot(page, "image-dark-1366")
        context.close()
    assert problems == []


def test_no_page_scrolls_sideways_on_a_phone(browser: Browser, world: World) -> None:
    """At 390 px no page is wider than the screen; a screenshot of each at that width."""
    phone = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True}
    too_wide = []
    for role in ROLES:
        context, page = signed_in(browser, world, role, **phone)
        for visit in (v for v in VISITS if v.role == role):
            page.goto(_path(visit, world))
            width = page.evaluate(WIDTH_JS)
            if width > 390:
                too_wide.append(f"{role} {visit.path}: {width}px")
            screenshot(page, f"{visit.name}-390")
        context.close()
    assert too_wide == []


def test_a_styled_404_everywhere(browser: Browser, world: World) -> None:
    """Unknown paths, static files, users and digests all answer the styled page, not a bare one."""
    context, page = signed_in(browser, world, "owner")
    missing = (
        "/no/such/page", "/static/missing.css", "/u/nobody1234", f"/r/{world.app}/images/sha256:{'0' * 64}",
        f"/r/{world.app}/images/not-a-digest", f"/r/{world.app}/settings/webhooks/deliveries/999999",
        "/admin/storage",
    )  # fmt: skip
    for path in missing:
        response = page.goto(path)
        assert response is not None and response.status == 404, path
        expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
        expect(page.get_by_role("link", name="Go to the home page")).to_be_visible()
        assert axe_violations(page) == [], path
    context.close()


def test_favicon(browser: Browser, world: World) -> None:
    context, page = signed_in(browser, world, "anonymous")
    page.goto("/")
    expect(page.locator('link[rel="icon"][type="image/svg+xml"]')).to_have_attribute(
        "href", "/static/favicon.svg"
    )
    for path in ("/favicon.ico", "/static/favicon.svg"):
        response = page.request.get(path)
        assert response.status == 200 and response.body(), path
    assert page.request.get("/favicon.ico").headers["content-type"] in (
        "image/x-icon",
        "image/vnd.microsoft.icon",
    )
    context.close()
