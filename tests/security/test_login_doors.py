"""Every door that takes a password goes through one throttled, audited login (issue 8 item 11,
issue 10 item 6).

Attacks defended:
- password guessing through the build API: its HTTP Basic logins skipped the login throttle and
  the audit log (15 wrong passwords, then the right one, were all answered as if nothing
  happened), and an account locked out on /token could still build;
- guessing through another door of an open registry: under DOCKYARD_AUTH=none the pages and the
  hub API each had a throttle of their own, so an attacker got one allowance per door.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.access.helpers import World, request_token, threaded_world
from tests.security._build_access import NO_WORKER, SERVER_ENV, audit_events, build_api
from tests.web.conftest import WebClient

MAX_FAILURES = 10  # DOCKYARD_LOGIN_MAX_FAILURES' default


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with threaded_world(tmp_path / "data", env={**SERVER_ENV, **NO_WORKER}) as running:
        with running.batch() as batch:
            batch.user("alice")
            batch.user("carol")
        yield running


def test_build_api_logins_are_throttled_and_audited(world: World) -> None:
    """15 wrong passwords on the build API lock the account: the right one is then refused (429,
    with Retry-After), and every failure and refusal is in the audit log, naming the door."""
    history = f"{build_api(world.server)}/repositories/alice/app/builds"
    wrong = [httpx.get(history, auth=("alice", f"wrong-{n}"), timeout=30).status_code for n in range(15)]
    right = httpx.get(history, auth=world.basic("alice"), timeout=30)
    assert wrong == [401] * MAX_FAILURES + [429] * (15 - MAX_FAILURES), wrong
    assert right.status_code == 429, right.text
    assert right.headers.get("retry-after", "").isdigit(), right.headers
    assert "message" in right.json()

    failures = [d for actor, d in audit_events(world.server, "login.failure") if actor == "alice"]
    assert len(failures) == MAX_FAILURES and all(d.get("door") == "build-api" for d in failures), failures
    throttled = [d for actor, d in audit_events(world.server, "login.throttled") if actor == "alice"]
    assert len(throttled) == 15 - MAX_FAILURES + 1, throttled


def test_an_account_locked_on_token_cannot_build(world: World) -> None:
    """Locked out by wrong passwords on /token, the account cannot link, build or read through
    the build API, nor log in to the pages or the hub API, even with its right password."""
    for n in range(MAX_FAILURES):
        assert request_token(world.server, auth=("carol", f"wrong-{n}")).status_code == 401
    carol = world.basic("carol")
    api = build_api(world.server)
    link = httpx.put(
        f"{api}/repositories/carol/app/link", json={"source_url": "git://127.0.0.1:9/x.git"}, auth=carol
    )
    now = httpx.post(f"{api}/repositories/carol/app/trigger", json={}, auth=carol, timeout=30)
    assert (link.status_code, now.status_code) == (429, 429), (link.text, now.text)

    hub = httpx.post(f"{world.server.url}/v2/users/login", json={"username": "carol", "password": carol[1]})
    assert hub.status_code == 429, hub.text
    web = WebClient(world.server)
    try:
        page = web.post("/login", {"username": "carol", "password": carol[1]})
        assert page.status_code == 401 and "Too many failed attempts" in page.text, page.text[:500]
    finally:
        web.close()


@pytest.fixture
def open_world(tmp_path: Path) -> Iterator[World]:
    with threaded_world(
        tmp_path / "data", env={**SERVER_ENV, **NO_WORKER, "DOCKYARD_AUTH": "none"}
    ) as running:
        running.create_user("dave")
        yield running


def test_an_open_registry_shares_one_login_throttle(open_world: World) -> None:
    """DOCKYARD_AUTH=none still has accounts on the pages and the hub API: wrong passwords on the
    hub API lock the account out of the pages too (one throttle, built once), and are audited."""
    url = f"{open_world.server.url}/v2/users/login"
    for n in range(MAX_FAILURES):
        assert httpx.post(url, json={"username": "dave", "password": f"wrong-{n}"}).status_code == 401
    web = WebClient(open_world.server)
    try:
        page = web.post("/login", {"username": "dave", "password": open_world.passwords["dave"]})
        assert page.status_code == 401 and "Too many failed attempts" in page.text, page.text[:500]
    finally:
        web.close()
    doors = [
        d.get("door") for actor, d in audit_events(open_world.server, "login.failure") if actor == "dave"
    ]
    assert doors == ["api"] * MAX_FAILURES, doors
    assert [d.get("door") for _, d in audit_events(open_world.server, "login.throttled")] == ["web"]
