"""Issue 9, item 2: sign-up can be closed, and sign-ups and new repositories are limited.

The issue's numbers: one address signed up 360 accounts in 22 s, and one user created 16,000
repositories in 79 s (after which every anonymous listing scanned them all). Each limit is
checked against a real `dockyard serve` with its default settings where the issue's numbers are
tested, and answered as its protocol answers: an HTML page, the hub API's ``{"detail"}``, the
registry's ``{"errors"}``, each 429 with Retry-After.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.access.helpers import World, error_codes, running_world
from tests.security.account_clients import (
    hub_token,
    post_form,
    session_cookie,
    session_post,
    web_login,
)

ISSUE_SIGNUPS = 360
DEFAULT_SIGNUPS_PER_HOUR = 10
DEFAULT_REPOSITORIES_PER_HOUR = 100


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A server with the default limits."""
    with running_world(tmp_path_factory.mktemp("limits") / "data") as world:
        yield world


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    env = {"DOCKYARD_SIGNUP": "closed", "DOCKYARD_REPOSITORY_LIMIT_PER_NAMESPACE": "3"}
    with running_world(tmp_path_factory.mktemp("closed") / "data", env=env) as world:
        yield world


def signup(world: World, name: str) -> httpx.Response:
    password = "a fine password"
    return post_form(
        world, "/signup", {"username": name, "email": "", "password": password, "confirm": password}
    )


def test_one_address_cannot_sign_up_360_accounts(world: World) -> None:
    """Defends against sign-up floods from one address (the issue: 360 accounts in 22 s). With the
    default limit of 10 per address per hour, 10 of the 360 get an account; the rest are answered
    429 with Retry-After before any password is hashed, so the flood is also cheap to refuse."""
    started = time.monotonic()
    answers = [signup(world, f"flood{n:04d}") for n in range(ISSUE_SIGNUPS)]
    elapsed = time.monotonic() - started
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {303: DEFAULT_SIGNUPS_PER_HOUR, 429: ISSUE_SIGNUPS - DEFAULT_SIGNUPS_PER_HOUR}
    refused = answers[-1]
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    assert "text/html" in refused.headers["content-type"] and "too many sign-ups" in refused.text
    users = world.cli("user", "list").stdout
    assert users.count("flood") == DEFAULT_SIGNUPS_PER_HOUR
    assert elapsed < 60, f"{ISSUE_SIGNUPS} sign-up attempts took {elapsed:.1f} s"


def test_one_user_cannot_create_repositories_without_end(world: World) -> None:
    """Defends against one account filling the server with repositories (the issue: 16,000 in 79 s).
    With the default of 100 new repositories per user per hour, the API creates 100 and answers
    the rest 429 with Retry-After in its own format; the registry (a push into a new name) and the
    web page refuse the same way in theirs."""
    password = world.create_user("maker")
    token = hub_token(world, "maker", password)
    headers = {"Authorization": f"Bearer {token}"}
    answers = []
    with httpx.Client(base_url=world.server.url, headers=headers, timeout=30) as client:
        for n in range(150):
            answers.append(client.post("/v2/repositories/", json={"namespace": "maker", "name": f"r{n}"}))
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {201: DEFAULT_REPOSITORIES_PER_HOUR, 429: 50}, statuses
    refused = answers[-1]
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    assert "too many new repositories" in refused.json()["detail"]

    push_token = world.token("repository:maker/pushed:pull,push", user="maker", password=password)
    pushed = httpx.post(
        f"{world.server.url}/v2/maker/pushed/blobs/uploads/",
        headers={"Authorization": f"Bearer {push_token}"},
        timeout=30,
    )
    assert pushed.status_code == 429 and error_codes(pushed) == ["TOOMANYREQUESTS"], pushed.text
    assert int(pushed.headers["retry-after"]) > 0

    cookie = session_cookie(web_login(world, "maker", password))
    page = session_post(world, cookie, "/repository/create", {"namespace": "maker", "name": "webmade"})
    assert page.status_code == 429 and int(page.headers["retry-after"]) > 0, page.text[:500]
    assert "maker/pushed" not in world.cli("repo", "list", "maker").stdout


def test_closed_sign_up_says_so_and_creates_nobody(closed: World) -> None:
    """Defends a private instance against strangers: DOCKYARD_SIGNUP=closed refuses the sign-up
    page (GET and POST) with a message, hides its links, and administrators still create users."""
    page = httpx.get(f"{closed.server.url}/signup", timeout=30)
    assert page.status_code == 403 and "Sign-up is closed" in page.text
    attempt = signup(closed, "stranger")
    assert attempt.status_code == 403 and "Sign-up is closed" in attempt.text
    assert 'href="/signup"' not in httpx.get(f"{closed.server.url}/login", timeout=30).text
    assert "stranger" not in closed.cli("user", "list").stdout
    closed.create_user("invited")
    assert "invited" in closed.cli("user", "list").stdout


def test_a_namespace_holds_at_most_its_cap(closed: World) -> None:
    """Defends listings and storage against one namespace without end: past
    DOCKYARD_REPOSITORY_LIMIT_PER_NAMESPACE the API answers 403 and a push into a new name is
    denied in the registry's format; an administrator is not limited."""
    password = closed.create_user("capped")
    token = hub_token(closed, "capped", password)
    with httpx.Client(
        base_url=closed.server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        made = [
            client.post("/v2/repositories/", json={"namespace": "capped", "name": f"c{n}"}) for n in range(4)
        ]
    assert [answer.status_code for answer in made] == [201, 201, 201, 403]
    assert "holds 3 repositories" in made[-1].json()["detail"]

    push_token = closed.token("repository:capped/more:pull,push", user="capped", password=password)
    pushed = httpx.post(
        f"{closed.server.url}/v2/capped/more/blobs/uploads/",
        headers={"Authorization": f"Bearer {push_token}"},
        timeout=30,
    )
    assert pushed.status_code == 403 and error_codes(pushed) == ["DENIED"], pushed.text

    admin_password = closed.create_user("siteadmin", admin=True)
    admin_token = hub_token(closed, "siteadmin", admin_password)
    by_admin = httpx.post(
        f"{closed.server.url}/v2/repositories/",
        json={"namespace": "capped", "name": "byadmin"},
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=30,
    )
    assert by_admin.status_code == 201, by_admin.text
