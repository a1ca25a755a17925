"""What a signed-in person holds, obtained over HTTP from the server (real or in process): a web
session, a refresh token (``GET /token?offline_token=true``), a hub API token and a registry access
token, and the one request that tells whether each still works."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import httpx

from tests.access.helpers import World, request_token

# The double-submit CSRF token a visitor without a session sends (20 to 64 characters).
VISITOR_CSRF = "v" * 32
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def web_login(world: World, user: str, password: str) -> httpx.Response:
    return post_form(world, "/login", {"username": user, "password": password, "next": "/"})


def post_form(world: World, path: str, fields: dict[str, str], session: str | None = None) -> httpx.Response:
    """A form POST as a browser without a session sends it (visitor CSRF cookie), or with one."""
    cookies = {"dockyard_csrf": VISITOR_CSRF}
    if session is not None:
        cookies = {"dockyard_session": session}
    with world.server.client(cookies=cookies) as client:
        return client.post(path, data={**fields, "csrf_token": VISITOR_CSRF})


def session_post(world: World, cookie: str, path: str, fields: dict[str, str]) -> httpx.Response:
    """A form POST from a signed-in browser: the session's own CSRF token, read off a page."""
    with world.server.client(cookies={"dockyard_session": cookie}) as client:
        page = client.get("/repository/create")
        found = CSRF_FIELD.search(page.text)
        assert found, page.text[:500]
        return client.post(path, data={**fields, "csrf_token": found[1]})


def session_cookie(response: httpx.Response) -> str:
    assert response.status_code == 303, (response.status_code, response.text[:500])
    cookie = response.cookies.get("dockyard_session")
    assert cookie, response.headers
    return cookie


def session_works(world: World, cookie: str) -> bool:
    """Whether the cookie is a live session: the tokens page answers instead of sending to /login."""
    with world.server.client(cookies={"dockyard_session": cookie}) as client:
        response = client.get("/settings/tokens")
    assert response.status_code in (200, 303), (response.status_code, response.text[:300])
    return response.status_code == 200


def refresh_token(world: World, user: str, secret: str) -> str:
    response = request_token(
        world.server,
        ["repository:x/y:pull"],
        auth=(user, secret),
        service=world.service,
        offline_token="true",
    )
    assert response.status_code == 200, (response.status_code, response.text)
    token: str = response.json()["refresh_token"]
    return token


def refresh_works(world: World, token: str) -> bool:
    response = world.server.http.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": token, "service": world.service}
    )
    assert response.status_code in (200, 401), (response.status_code, response.text)
    return response.status_code == 200


def hub_token(world: World, user: str, secret: str) -> str:
    response = world.server.http.post("/v2/users/login", json={"username": user, "password": secret})
    assert response.status_code == 200, (response.status_code, response.text)
    token: str = response.json()["token"]
    return token


def hub_token_works(world: World, token: str) -> bool:
    response = world.server.http.get("/v2/user/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (200, 401), (response.status_code, response.text)
    return response.status_code == 200


def access_token(world: World, user: str, secret: str, repository: str) -> str:
    return world.token(f"repository:{repository}:pull,push", user=user, password=secret)


def access_token_works(world: World, token: str, repository: str) -> bool:
    response = world.server.http.get(
        f"/v2/{repository}/tags/list", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code in (200, 401, 404), (response.status_code, response.text)
    return response.status_code != 401


def password_login_works(world: World, user: str, secret: str) -> bool:
    response = request_token(world.server, [], auth=(user, secret), service=world.service)
    assert response.status_code in (200, 401, 429), (response.status_code, response.text)
    return response.status_code == 200


@dataclass
class Held:
    """Everything one login gave a person."""

    session: str
    refresh: str
    hub: str
    access: str
    pat_refresh: str
    pat_access: str


def hold_everything(world: World, user: str, password: str, pat: str, repository: str) -> Held:
    return Held(
        session=session_cookie(web_login(world, user, password)),
        refresh=refresh_token(world, user, password),
        hub=hub_token(world, user, password),
        access=access_token(world, user, password, repository),
        pat_refresh=refresh_token(world, user, pat),
        pat_access=access_token(world, user, pat, repository),
    )


def unique_password() -> str:
    return f"Pw-new-{secrets.token_urlsafe(12)}"
