"""Issue 9, item 1: a password change, disabling and deleting an account end what was issued before.

The app with token auth on a real socket (tests/inprocess.py's ThreadedDockyard), administered with
the real CLI while it runs. Each test
holds everything a login gives (web session, refresh token, hub API token, registry access token,
and the same through a personal access token), changes the account, and checks each door.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.access.helpers import World, past_the_standing_cache, threaded_world
from tests.security.account_clients import (
    access_token_works,
    hold_everything,
    hub_token,
    hub_token_works,
    password_login_works,
    post_form,
    refresh_token,
    refresh_works,
    session_cookie,
    session_works,
    unique_password,
    web_login,
)

REPO = "alice/app"


def user_with_pat(world: World, user: str, scope: str) -> tuple[str, str]:
    """A new user and a personal access token of theirs, made by the CLI in one run."""
    with world.batch() as batch:
        batch.user(user)
        batch.pat(f"{user}-ci", user, scope)
    return world.passwords[user], world.pats[f"{user}-ci"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, template_database: Path) -> Iterator[World]:
    data = tmp_path_factory.mktemp("revocation") / "data"
    with threaded_world(data, template=template_database) as world:
        yield world


def test_a_password_change_ends_sessions_refresh_and_hub_tokens(world: World) -> None:
    """Defends against a thief who has a session cookie, a refresh token (90 days, push scope) or a
    hub token of the old password: changing the password must end all of them. On main every one
    kept working, and a password-based refresh token could never be revoked."""
    password, pat = user_with_pat(world, "alice", "repo:write")
    held = hold_everything(world, "alice", password, pat, REPO)
    assert session_works(world, held.session) and refresh_works(world, held.refresh)
    assert hub_token_works(world, held.hub) and access_token_works(world, held.access, REPO)

    new = unique_password()
    world.cli("user", "set-password", "alice", "--password-stdin", input=new + "\n")
    past_the_standing_cache()

    assert not session_works(world, held.session)
    assert not refresh_works(world, held.refresh)
    assert not hub_token_works(world, held.hub)
    assert not access_token_works(world, held.access, REPO)
    assert not password_login_works(world, "alice", password)
    # The personal access token is a credential of its own: it, and what it issued, keep working.
    assert refresh_works(world, held.pat_refresh) and access_token_works(world, held.pat_access, REPO)
    # The new password opens every door, and what it issues works.
    assert session_works(world, session_cookie(web_login(world, "alice", new)))
    assert refresh_works(world, refresh_token(world, "alice", new))
    assert hub_token_works(world, hub_token(world, "alice", new))
    events = world.cli("audit", "--kind", "password.changed").stdout
    assert "alice" in events


def test_a_disabled_user_is_refused_on_every_door_at_once(world: World) -> None:
    """Defends against a dismissed or compromised account: `dockyard user disable` must refuse its
    logins (password and PAT; /token, the hub API, the web) and end its sessions, refresh, hub and
    access tokens at once; `enable` restores logins but not the ended sessions. Main had no way to
    disable an account at all."""
    password, pat = user_with_pat(world, "bobby", "repo:write")
    held = hold_everything(world, "bobby", password, pat, "bobby/app")

    world.cli("user", "disable", "bobby")
    past_the_standing_cache()

    assert not session_works(world, held.session)
    for token in (held.refresh, held.pat_refresh):
        assert not refresh_works(world, token)
    assert not hub_token_works(world, held.hub)
    for token in (held.access, held.pat_access):
        assert not access_token_works(world, token, "bobby/app")
    for secret in (password, pat):
        assert not password_login_works(world, "bobby", secret)
        login = httpx.post(
            f"{world.server.url}/v2/users/login", json={"username": "bobby", "password": secret}, timeout=30
        )
        assert login.status_code == 401, login.text
    assert web_login(world, "bobby", password).status_code == 401
    assert "disabled" in world.cli("user", "list").stdout

    world.cli("user", "enable", "bobby")
    assert password_login_works(world, "bobby", password) and password_login_works(world, "bobby", pat)
    assert not session_works(world, held.session)  # sessions of before stay ended
    assert not refresh_works(world, held.refresh)
    for kind in ("user.disabled", "user.enabled"):
        assert "bobby" in world.cli("audit", "--kind", kind).stdout


def test_delete_asks_for_the_name_keeps_it_retired_and_takes_the_repositories(world: World) -> None:
    """Defends against a deleted account's name being taken over (whoever signed up as it would
    receive the pulls and pushes meant for the old owner) and against a half-deleted account whose
    repositories stay reachable. Main had no `user delete`."""
    password, pat = user_with_pat(world, "carol", "repo:admin")
    held = hold_everything(world, "carol", password, pat, "carol/app")
    hub = held.hub
    created = httpx.post(
        f"{world.server.url}/v2/repositories/",
        json={"namespace": "carol", "name": "app", "is_private": True},
        headers={"Authorization": f"Bearer {hub}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text

    wrong = world.cli("user", "delete", "carol", "--confirm", "carl", check=False)
    assert wrong.returncode == 1 and "nothing was deleted" in wrong.stderr
    busy = world.cli("user", "delete", "carol", "--confirm", "carol", check=False)
    assert busy.returncode == 1 and "repositories" in busy.stderr
    assert password_login_works(world, "carol", password)

    world.cli("user", "delete", "carol", "--confirm", "carol", "--delete-repositories")

    assert not password_login_works(world, "carol", password)
    assert not password_login_works(world, "carol", pat)
    assert not session_works(world, held.session) and not hub_token_works(world, hub)
    assert not refresh_works(world, held.pat_refresh)
    assert "carol/app" not in world.cli("repo", "list").stdout
    again = world.cli("user", "create", "carol", "--password-stdin", input="another password\n", check=False)
    assert again.returncode == 1 and "not given out again" in again.stderr
    signup = post_form(
        world,
        "/signup",
        {"username": "carol", "email": "", "password": "p4ssword!", "confirm": "p4ssword!"},
    )
    assert signup.status_code == 400 and "not given out again" in signup.text
    assert "carol" in world.cli("audit", "--kind", "user.deleted").stdout


def test_delete_prompts_for_the_name(world: World) -> None:
    """The typed confirmation: without --confirm the command asks, and a wrong answer deletes nothing."""
    world.create_user("dave")
    refused = world.cli("user", "delete", "dave", input="dav\n", check=False)
    assert refused.returncode == 1 and "nothing was deleted" in refused.stderr
    world.cli("user", "delete", "dave", input="dave\n")
    assert "dave" not in world.cli("user", "list").stdout
