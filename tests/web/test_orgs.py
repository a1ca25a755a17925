"""The organisation pages and the Collaborators section in a real browser, walked as the owner, a
member, an outsider and an anonymous visitor: what each sees and may do. Every page is shot at
1366 and 390 px (test-artifacts/screenshots/) and none scrolls sideways on a phone. Forms answer
with a redirect (reloading never repeats them); refusals show beside the form."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import DockyardServer
from tests.web.conftest import WebClient, log_in, screenshot, unique_name

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
OVERFLOW_JS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
# What sticks out past the right edge, to say why a page scrolls sideways.
WIDE_JS = """() => Array.from(document.querySelectorAll('body *'))
  .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .filter(el => !el.closest('.table-wrap, .tabs') || el.matches('.table-wrap, .tabs'))
  .slice(0, 5)
  .map(el => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right))"""
UNLABELLED_JS = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.type !== 'hidden')
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML)"""


@dataclass
class Org:
    server: DockyardServer
    name: str
    owner: str
    member: str
    outsider: str

    def path(self, *parts: str) -> str:
        return "/".join([f"/orgs/{self.name}", *parts])


@pytest.fixture(scope="module")
def org(server: DockyardServer) -> Iterator[Org]:
    """An organisation made through the pages: its owner, a member in the team devs, which holds
    write on the org's private repository app, and an outsider."""
    found = Org(
        server, unique_name("org"), unique_name("owner"), unique_name("member"), unique_name("outsider")
    )
    clients = {name: WebClient(server) for name in (found.owner, found.member, found.outsider)}
    for name, client in clients.items():
        client.sign_up(name)
    owner = clients[found.owner]
    made = owner.post("/orgs/new", {"name": found.name, "visibility": "private"})
    assert made.status_code == 303 and made.headers["location"] == found.path("members"), made.text
    steps = [
        (found.path("members"), {"username": found.member, "role": "member"}),
        (found.path("teams"), {"name": "devs", "description": "builds and ships"}),
        (found.path("teams", "devs", "members"), {"username": found.member}),
    ]
    for action, data in steps:
        response = owner.post(action, data, form_page=found.path("members"))
        assert response.status_code == 303, (action, response.text)
    repo = owner.post(
        "/repository/create",
        {"namespace": found.name, "name": "app", "description": "", "full_description": "", "visibility": ""},
    )
    assert repo.status_code == 303, repo.text
    granted = owner.post(
        found.path("teams", "devs", "permissions"),
        {"repository": f"{found.name}/app", "permission": "write"},
        form_page=found.path("teams", "devs"),
    )
    assert granted.status_code == 303, granted.text
    for client in clients.values():
        client.close()
    yield found


def _signed_in(browser: Browser, server: DockyardServer, user: str | None, width: str) -> BrowserContext:
    context = browser.new_context(base_url=server.url, viewport=WIDTHS[width])  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    if user is not None:
        log_in(context.new_page(), user)
    return context


@pytest.fixture
def owner_page(browser: Browser, org: Org) -> Iterator[Page]:
    context = _signed_in(browser, org.server, org.owner, "desktop")
    yield context.new_page()
    context.close()


def _check_page(page: Page, path: str, shot: str) -> None:
    page.goto(path)
    assert page.evaluate(UNLABELLED_JS) == [], f"unlabelled controls on {path}"
    expect(page.locator("h1")).to_have_count(1)
    screenshot(page, shot)
    overflow = page.evaluate(OVERFLOW_JS)
    wide = page.evaluate(WIDE_JS) if overflow > 1 else []
    assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at {page.viewport_size}: {wide}"


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_every_org_page_as_owner_and_member(browser: Browser, org: Org, width: str) -> None:
    pages = {
        "orgs": "/orgs",
        "orgs-new": "/orgs/new",
        "org-members": org.path("members"),
        "org-teams": org.path("teams"),
        "org-team": org.path("teams", "devs"),
        "org-team-owners": org.path("teams", "owners"),
        "org-settings": org.path("settings"),
    }
    for who, user in (("owner", org.owner), ("member", org.member)):
        context = _signed_in(browser, org.server, user, width)
        page = context.new_page()
        for name, path in pages.items():
            if who == "member" and name == "org-settings":
                continue
            _check_page(page, path, f"{name}-{who}-{width}")
        context.close()


def test_the_owner_sees_every_control(owner_page: Page, org: Org) -> None:
    page = owner_page
    page.goto(org.path("members"))
    expect(page.get_by_role("link", name="Settings", exact=True)).to_be_visible()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_label(f"Role of {org.member}")).to_have_value("member")
    expect(page.get_by_role("heading", name="Add a member")).to_be_visible()
    page.goto(org.path("teams", "devs"))
    expect(page.get_by_role("link", name=f"{org.name}/app")).to_be_visible()
    expect(page.get_by_label(f"Permission on {org.name}/app")).to_have_value("write")
    expect(page.get_by_role("button", name="Delete team")).to_be_visible()
    page.goto("/orgs")
    expect(page.get_by_role("link", name=org.name)).to_be_visible()


def test_roles_change_and_the_last_owner_stays(owner_page: Page, org: Org) -> None:
    page = owner_page
    page.goto(org.path("members"))
    page.get_by_label(f"Role of {org.owner}").select_option("member")
    page.get_by_role("button", name=f"Save role of {org.owner}").click()
    expect(page.get_by_role("alert")).to_contain_text("is the last owner")
    page.get_by_label(f"Role of {org.member}").select_option("owner")
    page.get_by_role("button", name=f"Save role of {org.member}").click()
    page.wait_for_url(f"**{org.path('members')}?saved=role")
    expect(page.get_by_label(f"Role of {org.member}")).to_have_value("owner")
    page.get_by_label(f"Role of {org.member}").select_option("member")
    page.get_by_role("button", name=f"Save role of {org.member}").click()
    expect(page.get_by_label(f"Role of {org.member}")).to_have_value("member")


def test_a_member_sees_but_does_not_change(browser: Browser, org: Org) -> None:
    context = _signed_in(browser, org.server, org.member, "desktop")
    page = context.new_page()
    page.goto(org.path("members"))
    expect(page.get_by_role("link", name="Settings", exact=True)).to_have_count(0)
    expect(page.get_by_role("heading", name="Add a member")).to_have_count(0)
    expect(page.locator("select")).to_have_count(0)
    expect(page.get_by_role("button", name=f"Leave {org.name}")).to_be_visible()
    page.goto(org.path("teams", "devs"))
    expect(page.get_by_role("cell", name="Read & write")).to_be_visible()
    expect(page.locator("main form")).to_have_count(0)
    response = page.goto(org.path("settings"))
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    # The team's write permission is real: the private repository is theirs to see.
    page.goto(f"/r/{org.name}/app")
    expect(page.get_by_role("heading", name="app")).to_be_visible()
    context.close()


@pytest.mark.parametrize("who", ["outsider", "anonymous"])
def test_outsiders_and_anonymous_visitors(browser: Browser, org: Org, who: str) -> None:
    user = org.outsider if who == "outsider" else None
    context = _signed_in(browser, org.server, user, "desktop")
    page = context.new_page()
    for path in (org.path("members"), org.path("teams"), org.path("teams", "devs"), org.path("settings")):
        response = page.goto(path)
        assert response is not None
        if who == "anonymous":
            assert page.url.endswith(f"/login?next={path}"), page.url
        else:
            assert response.status == 403, path
            expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
            expect(page.locator("main")).not_to_contain_text(org.member)
    response = page.goto(f"/r/{org.name}/app")  # private, and not theirs: it looks missing
    assert response is not None and response.status == 404
    screenshot(page, f"org-refused-{who}")
    context.close()


def test_create_team_and_reload_does_not_repeat(owner_page: Page, org: Org) -> None:
    page = owner_page
    page.goto(org.path("teams"))
    page.get_by_label("Team name").fill("qa")
    page.get_by_label("Description (optional)").fill("tests things")
    page.get_by_role("button", name="Create team").click()
    page.wait_for_url(f"**{org.path('teams', 'qa')}")
    page.reload()  # a GET: nothing is sent again
    page.goto(org.path("teams"))
    expect(page.get_by_role("link", name="qa", exact=True)).to_have_count(1)
    page.get_by_label("Team name").fill("qa")
    page.get_by_role("button", name="Create team").click()
    expect(page.get_by_role("alert")).to_contain_text("already has a team")
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(org.path("teams", "qa"))
    page.get_by_role("button", name="Delete team").click()
    page.wait_for_url(f"**{org.path('teams')}?deleted=qa")
    expect(page.get_by_role("link", name="qa", exact=True)).to_have_count(0)


def test_typed_confirmation_deletes_an_empty_org(browser: Browser, org: Org) -> None:
    context = _signed_in(browser, org.server, org.owner, "desktop")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    name = unique_name("gone")
    page.goto("/orgs/new")
    page.get_by_label("Organization name").fill(name)
    page.get_by_role("button", name="Create organization").click()
    page.wait_for_url(f"**/orgs/{name}/members")
    page.goto(f"/orgs/{name}/settings")
    button = page.get_by_role("button", name="Delete organization")
    expect(button).to_be_disabled()
    page.get_by_label(f"Type {name} to confirm").fill(name[:-1])
    expect(button).to_be_disabled()
    page.get_by_label(f"Type {name} to confirm").fill(name)
    button.click()
    page.wait_for_url(f"**/orgs?deleted={name}")
    expect(page.get_by_role("status")).to_contain_text(f"Organization {name} was deleted")
    response = page.goto(f"/orgs/{name}/members")
    assert response is not None and response.status == 404
    # The org with a repository refuses, whatever is typed.
    page.goto(org.path("settings"))
    expect(page.get_by_text("still holds 1 repository")).to_be_visible()
    page.get_by_label(f"Type {org.name} to confirm").fill(org.name)
    page.get_by_role("button", name="Delete organization").click()
    expect(page.get_by_role("alert")).to_contain_text("still has 1 repositories")
    context.close()


def test_a_member_leaves(browser: Browser, server: DockyardServer) -> None:
    owner, member, name = unique_name("owner"), unique_name("leaver"), unique_name("leave")
    clients = {user: WebClient(server) for user in (owner, member)}
    for user, client in clients.items():
        client.sign_up(user)
    clients[owner].post("/orgs/new", {"name": name, "visibility": "public"})
    clients[owner].post(f"/orgs/{name}/members", {"username": member, "role": "member"})
    for client in clients.values():
        client.close()
    context = _signed_in(browser, server, member, "desktop")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"/orgs/{name}/members")
    page.get_by_role("button", name=f"Leave {name}").click()
    page.wait_for_url(f"**/orgs?left={name}")
    expect(page.get_by_role("link", name=name)).to_have_count(0)
    context.close()
