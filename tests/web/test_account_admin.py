"""Account settings and site administration in a real browser (issue 14, items 4 and 5): the
profile, changing the password (this browser stays in, the others and the refresh tokens are
out, access tokens keep working), deleting one's account with the name typed again, starred
lists, and the admin pages: users (search, disable, make admin), the audit log's filters,
storage per namespace, and the sign-up switch."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from dockyard.web.templating import human_size
from tests.conftest import DockyardServer
from tests.web.conftest import PASSWORD, WebClient, log_in, unique_name
from tests.web.world import World, build_world, signed_in

NEW_PASSWORD = "an entirely new passphrase"


@pytest.fixture(scope="module")
def world(server: DockyardServer) -> World:
    return build_world(server)


@pytest.fixture
def admin(browser: Browser, world: World) -> Iterator[Page]:
    context, page = signed_in(browser, world, "admin")
    yield page
    context.close()


def _person(world: World) -> str:
    """A fresh account of its own, for tests that change or end it."""
    name = unique_name("person")
    client = WebClient(world.server)
    client.sign_up(name)
    client.close()
    return name


def _refresh_token(world: World, user: str, secret: str) -> str:
    answer = httpx.get(
        f"{world.server.url}/token",
        params={"offline_token": "true", "service": "dockyard"},
        auth=(user, secret),
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["refresh_token"]
    return token


def _refreshes(world: World, token: str) -> int:
    form = {"grant_type": "refresh_token", "refresh_token": token, "service": "dockyard", "client_id": "test"}
    return httpx.post(f"{world.server.url}/token", data=form).status_code


def test_the_profile_is_saved_and_shown(browser: Browser, world: World) -> None:
    context, page = signed_in(browser, world, "anonymous")
    user = _person(world)
    log_in(page, user)
    page.get_by_role("link", name="Account settings").click()
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Company").fill("Analytical Engines")
    page.get_by_label("Location").fill("London")
    page.get_by_label("Website").fill("ada.example.com")
    page.get_by_role("button", name="Save profile").click()
    page.wait_for_url("**/settings/general")
    expect(page.get_by_role("status").first).to_have_text("Your profile was saved.")
    expect(page.get_by_label("Website")).to_have_value("https://ada.example.com")
    page.get_by_label("Website").fill("javascript:alert(1)")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#profile-error")).to_contain_text("http:// or https://")
    page.goto(f"/u/{user}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ada Lovelace")
    facts = page.locator(".profile-facts")
    expect(facts).to_contain_text("Analytical Engines")
    expect(facts).to_contain_text("London")
    expect(facts.get_by_role("link", name="https://ada.example.com")).to_have_attribute(
        "rel", "nofollow noopener noreferrer"
    )
    context.close()


def test_a_password_change_keeps_this_browser_and_ends_the_others(browser: Browser, world: World) -> None:
    user = _person(world)
    here, page = signed_in(browser, world, "anonymous")
    there, other = signed_in(browser, world, "anonymous")
    for each in (page, other):
        log_in(each, user)
    refresh = _refresh_token(world, user, PASSWORD)
    page.goto("/settings/tokens")
    page.get_by_label("Description").fill("ci")
    page.get_by_role("button", name="Generate").click()
    pat = page.locator("#new-token").inner_text().strip()

    page.get_by_role("link", name="Security").click()
    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#password-error")).to_have_text("The current password is wrong.")
    assert _refreshes(world, refresh) == 200  # nothing changed yet

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url("**/settings/security")
    expect(page.get_by_role("status").first).to_contain_text("Password changed")
    page.goto("/settings/general")
    expect(page.get_by_role("heading", level=1)).to_have_text("General")  # still logged in here

    other.goto("/settings/general")
    expect(other.get_by_role("heading", level=1)).to_have_text("Log in")  # the other browser is out
    assert _refreshes(world, refresh) == 401  # docker login's refresh token too
    assert httpx.get(f"{world.server.url}/token", auth=(user, pat)).status_code == 200  # PATs stay
    assert httpx.get(f"{world.server.url}/token", auth=(user, PASSWORD)).status_code == 401
    assert httpx.get(f"{world.server.url}/token", auth=(user, NEW_PASSWORD)).status_code == 200
    here.close()
    there.close()


def test_deleting_ones_account_needs_the_name_typed_again(browser: Browser, world: World) -> None:
    user = _person(world)
    context, page = signed_in(browser, world, "anonymous")
    log_in(page, user)
    page.goto("/repository/create")
    page.get_by_label("Repository name").fill("doomed")
    page.get_by_role("button", name="Create").click()
    page.goto("/settings/general")
    delete = page.get_by_role("button", name="Delete my account")
    expect(delete).to_be_disabled()
    page.get_by_label(f"Type {user} to confirm").fill(user)
    page.get_by_label("Your password").fill("wrong password")
    delete.click()
    expect(page.locator("#delete-account-error")).to_contain_text("nothing was deleted")
    page.get_by_label(f"Type {user} to confirm").fill(user)
    page.get_by_label("Your password").fill(PASSWORD)
    delete.click()
    page.wait_for_url(f"{world.server.url}/")
    expect(page.get_by_role("status").first).to_have_text(
        f"Your account {user} was deleted with 1 repository."
    )
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    assert page.goto(f"/r/{user}/doomed").status == 404  # type: ignore[union-attr]
    client = WebClient(world.server)
    again = client.post("/signup", {"username": user, "email": "", "password": PASSWORD, "confirm": PASSWORD})
    assert again.status_code == 400 and "not given out again" in again.text
    client.close()
    context.close()


def test_starred_repositories_list_only_what_the_viewer_may_see(browser: Browser, world: World) -> None:
    member, page = signed_in(browser, world, "member")
    for name in (world.app, world.tool):
        page.goto(f"/r/{name}")
        page.get_by_role("button", name="Star").click()
        expect(page.get_by_role("button", name="Starred")).to_be_visible()
    page.goto(f"/u/{world.member}/starred")
    expect(page.locator(".repo-card h3 a")).to_have_text([world.tool, world.app])
    outsider, other = signed_in(browser, world, "outsider")
    other.goto(f"/u/{world.member}")
    other.get_by_role("link", name="Starred").click()
    expect(other.locator(".repo-card h3 a")).to_have_text([world.app])
    member.close()
    outsider.close()


def test_admin_searches_disables_and_makes_administrators(
    admin: Page, browser: Browser, world: World
) -> None:
    user = _person(world)
    context, victim = signed_in(browser, world, "anonymous")
    log_in(victim, user)
    admin.goto("/admin/users")
    admin.get_by_label("Search by name, email or full name").fill(user[:10])
    admin.get_by_role("button", name="Search").last.click()
    row = admin.locator(f'tr[data-user="{user}"]')
    expect(row).to_have_count(1)
    admin.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=f"Disable {user}").click()
    expect(admin.get_by_role("status").first).to_have_text(f"{user} is disabled.")
    expect(admin.locator(f'tr[data-user="{user}"] .user-status')).to_contain_text("Disabled")
    victim.reload()
    expect(victim.get_by_role("link", name="Log in")).to_be_visible()  # the session ended
    assert httpx.get(f"{world.server.url}/token", auth=(user, PASSWORD)).status_code == 401

    admin.locator(f'tr[data-user="{user}"]').get_by_role("button", name=f"Enable {user}").click()
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.locator(f'tr[data-user="{user}"]').get_by_role("button", name=f"Make admin {user}").click()
    expect(admin.locator(f'tr[data-user="{user}"] .user-status')).to_contain_text("Admin")
    log_in(victim, user)
    victim.goto("/admin/storage")
    expect(victim.get_by_role("heading", level=1)).to_have_text("Storage")
    admin.goto(f"/admin/users?q={world.admin}")
    expect(admin.locator(f'tr[data-user="{world.admin}"]')).to_contain_text("You")  # no buttons on oneself
    context.close()


def test_the_audit_log_filters(admin: Page, world: World) -> None:
    admin.goto("/admin/audit")
    admin.get_by_label("Event").select_option("repository.created")
    admin.get_by_role("button", name="Filter").click()
    kinds = admin.locator("table.audit tbody tr").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert kinds and set(kinds) == {"repository.created"}
    admin.get_by_label("Actor").fill(world.owner)
    admin.get_by_role("button", name="Filter").click()
    expect(admin.locator("table.audit tbody tr")).to_have_count(2)  # app and secret
    admin.get_by_label("From").fill("2999-01-01")
    admin.get_by_role("button", name="Filter").click()
    expect(admin.get_by_text("No events match these filters.")).to_be_visible()
    response = admin.goto("/admin/audit?since=yesterday")
    assert response is not None and response.status == 400
    expect(admin.locator("#audit-error")).to_contain_text("is not a date")


def test_storage_per_namespace(admin: Page, world: World) -> None:
    artifact = 2 + len(b'{"critical": {}}')  # the empty config and the signature's layer
    expected = world.image.size + artifact + sum(p.size for p in world.platforms)
    admin.goto("/admin/storage")
    row = admin.locator(f'tr[data-namespace="{world.owner}"]')
    expect(row.locator("td.size")).to_have_text(human_size(expected))
    expect(row.locator("td").nth(1)).to_have_text("2")  # app and secret


def test_the_signup_switch(admin: Page, browser: Browser, world: World) -> None:
    admin.goto("/admin/settings")
    expect(admin.locator("#signup-state")).to_have_text("open")
    admin.get_by_label("Closed").check()
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("status").first).to_have_text("Sign-up is closed.")
    context, visitor = signed_in(browser, world, "anonymous")
    response = visitor.goto("/signup")
    assert response is not None and response.status == 403
    expect(visitor.locator("#signup-closed")).to_be_visible()
    visitor.goto("/")
    expect(visitor.get_by_role("link", name="Sign up")).to_have_count(0)
    client = WebClient(world.server)
    form = {"username": unique_name("late"), "password": PASSWORD, "confirm": PASSWORD}
    refused = client.post("/signup", form, form_page="/login")
    assert refused.status_code == 403
    admin.goto("/admin/audit?kind=site.setting_changed")
    expect(admin.locator("table.audit tbody tr").first).to_contain_text('"to": "closed"')
    admin.goto("/admin/settings")
    admin.get_by_label("Open").check()
    admin.get_by_role("button", name="Save").click()
    client.sign_up(unique_name("early"))
    client.close()
    context.close()
