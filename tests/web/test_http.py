"""The pages' security over plain HTTP: CSRF on every POST, session cookies, revocable sessions,
web logins with passwords only, redirects that stay on the site, error pages."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import DockyardServer
from tests.web.conftest import PASSWORD, WebClient, unique_name
from tests.web.world import dockyard


@pytest.fixture(scope="module")
def member(server: DockyardServer) -> str:
    name = unique_name("member")
    client = WebClient(server)
    client.sign_up(name)
    client.close()
    return name


def test_posts_without_the_csrf_token_are_refused(server: DockyardServer, member: str) -> None:
    client = WebClient(server)
    client.csrf("/login")  # has the visitor cookie, but sends no token
    missing = client.http.post("/login", data={"username": member, "password": PASSWORD})
    wrong = client.http.post(
        "/login", data={"username": member, "password": PASSWORD, "csrf_token": "x" * 43}
    )
    for response in (missing, wrong):
        assert response.status_code == 403 and "form expired" in response.text
        assert "dockyard_session" not in response.headers.get("set-cookie", "")
    foreign = client.http.post(
        "/login",
        data={"username": member, "password": PASSWORD, "csrf_token": client.csrf("/login")},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403 and "another site" in foreign.text
    client.close()


def test_session_cookie_flags_and_logout_revokes_the_session(server: DockyardServer, member: str) -> None:
    client = WebClient(server)
    login = client.post("/login", {"username": member, "password": PASSWORD, "next": "/settings/tokens"})
    assert login.status_code == 303 and login.headers["location"] == "/settings/tokens"
    cookie = login.headers["set-cookie"]
    assert "dockyard_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/" in cookie and "Secure" not in cookie  # plain http here; Secure under https
    session = client.http.cookies["dockyard_session"]
    assert client.http.get("/settings/tokens").status_code == 200

    logout = client.post("/logout", {}, form_page="/settings/tokens")
    assert logout.status_code == 303
    stolen = httpx.get(f"{server.url}/settings/tokens", cookies={"dockyard_session": session})
    assert stolen.status_code == 303 and stolen.headers["location"].startswith("/login")
    client.close()


def test_web_login_wants_a_password_not_a_token(
    server: DockyardServer, member: str, web_client: WebClient
) -> None:
    wrong = web_client.post("/login", {"username": member, "password": "not the password"})
    assert wrong.status_code == 401 and "Incorrect username or password." in wrong.text
    token = web_client.post("/login", {"username": member, "password": "dckr_pat_abcdefghijklmnopqrstuvwxyz"})
    assert token.status_code == 401 and "personal access tokens are for docker login" in token.text


def test_redirects_after_login_stay_on_the_site(server: DockyardServer, member: str) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        client = WebClient(server)
        response = client.post("/login", {"username": member, "password": PASSWORD, "next": target})
        assert response.status_code == 303 and response.headers["location"] == "/", target
        client.close()


def test_signup_errors_are_shown_inline(server: DockyardServer, member: str, web_client: WebClient) -> None:
    for data, message in (
        ({"username": member, "password": PASSWORD, "confirm": PASSWORD}, "already"),
        ({"username": "ab", "password": PASSWORD, "confirm": PASSWORD}, "4 to 30 characters"),
        ({"username": unique_name("new"), "password": PASSWORD, "confirm": "different!"}, "passwords differ"),
        ({"username": unique_name("new"), "password": "short", "confirm": "short"}, "at least 8"),
    ):
        response = web_client.post("/signup", {"email": "", **data})
        assert response.status_code == 400 and 'role="alert"' in response.text
        assert message in response.text, (data, response.text[-2000:])


def test_error_pages_are_html_for_browsers_and_json_for_the_registry(server: DockyardServer) -> None:
    page = httpx.get(f"{server.url}/no/such/page", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "Page not found" in page.text
    assert page.headers["content-type"].startswith("text/html")
    registry = httpx.get(f"{server.url}/v2/")
    assert registry.status_code == 401 and registry.headers["content-type"].startswith("application/json")


def test_pages_send_security_headers(server: DockyardServer) -> None:
    response = httpx.get(f"{server.url}/explore")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_team_permissions_on_an_organisation_repository(server: DockyardServer, member: str) -> None:
    """The settings page's team form grants and takes away access, as the member then sees it."""
    owner, org = unique_name("boss"), unique_name("org")
    owner_client, member_client = WebClient(server), WebClient(server)
    owner_client.sign_up(owner)
    for args in (("org", "create", org, "--owner", owner), ("team", "create", org, "devs"),
                 ("team", "add-member", org, "devs", member)):  # fmt: skip
        dockyard(server, *args)
    create_page = owner_client.http.get("/repository/create").text
    assert f'<option value="{org}"' in create_page  # owners may create in their organisation
    created = owner_client.post(
        "/repository/create", {"namespace": org, "name": "tool", "visibility": "private", "description": ""}
    )
    assert created.status_code == 303 and created.headers["location"] == f"/r/{org}/tool"
    login = member_client.post("/login", {"username": member, "password": PASSWORD})
    assert login.status_code == 303
    assert member_client.http.get(f"/r/{org}/tool").status_code == 404

    settings = f"/r/{org}/tool/settings"
    granted = owner_client.post(
        f"{settings}/permissions", {"team": "devs", "permission": "write"}, form_page=settings
    )
    assert granted.status_code == 303
    assert member_client.http.get(f"/r/{org}/tool").status_code == 200
    assert member_client.http.get(settings).status_code == 403  # write is not admin

    revoked = owner_client.post(
        f"{settings}/permissions", {"team": "devs", "permission": ""}, form_page=settings
    )
    assert revoked.status_code == 303
    assert member_client.http.get(f"/r/{org}/tool").status_code == 404
    owner_client.close()
    member_client.close()


def test_official_images_live_under_underscore(server: DockyardServer) -> None:
    missing = httpx.get(f"{server.url}/_/nothing-here/tags", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and "Page not found" in missing.text
