"""Linking, relinking, unlinking and changing rules need admin on the repository, on every door
(issue 8 item 6).

Attack defended: a team member with write (or a repo:write access token) relinked a repository's
source and credentials through the build API, although the web page demanded admin; with a
source of their own, the next build runs their code and pushes under the repository's name. The
CLI linked on behalf of any account named with --created-by. Every link change that does
happen is in the audit log (issue 9 item 3), with the source named by its host only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.access.helpers import World, threaded_world
from tests.security._build_access import NO_WORKER, SERVER_ENV, audit_events, build_api
from tests.web.conftest import WebClient

ORIGINAL = "git://127.0.0.1:9/acme/app.git"
HIJACK = "git://127.0.0.1:9/bobby/evil.git"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """alice owns organisation acme; bobby is in its team devs, which has write on acme/app."""
    with threaded_world(tmp_path / "data", env={**SERVER_ENV, **NO_WORKER}) as running:
        with running.batch() as batch:
            batch.user("alice")
            batch.user("bobby")
            batch.run("org", "create", "acme", "--owner", "alice")
            batch.run("team", "create", "acme", "devs")
            batch.run("team", "add-member", "acme", "devs", "bobby")
            batch.run("repo", "create", "acme/app", "--public")
            batch.run("team", "grant", "acme", "devs", "acme/app", "--permission", "write")
            batch.pat("alice-write", "alice", "repo:write")
            batch.pat("alice-admin", "alice", "repo:admin")
        yield running


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 403, (response.status_code, response.text)
    assert "administrators of acme/app" in response.json()["message"], response.text


def test_write_is_not_enough_to_take_over_a_build_source(world: World) -> None:
    """Through the build API neither a write member's password nor a repo:write token may link,
    relink or unlink; a repo:admin token may."""
    link = f"{build_api(world.server)}/repositories/acme/app/link"
    admin_token = ("alice", world.pats["alice-admin"])
    write_token = ("alice", world.pats["alice-write"])
    made = httpx.put(link, json={"source_url": ORIGINAL}, auth=admin_token, timeout=30)
    assert made.status_code == 201, made.text

    hijack = {"source_url": HIJACK, "credentials": {"username": "bobby", "password": "x" * 12}}
    for who in (world.basic("bobby"), write_token):
        _refused(httpx.put(link, json=hijack, auth=who, timeout=30))
        _refused(httpx.delete(link, auth=who, timeout=30))
    assert httpx.get(link, auth=world.basic("bobby"), timeout=30).json()["source_url"] == ORIGINAL

    # They may still do what write means: read the history and start builds.
    builds = f"{build_api(world.server)}/repositories/acme/app/builds"
    assert httpx.get(builds, auth=world.basic("bobby"), timeout=30).status_code == 200
    assert httpx.delete(link, auth=admin_token, timeout=30).status_code == 204

    # The audit log has the admin's two changes, naming the source's host, and nothing else.
    changes = [
        (kind, actor, detail.get("host"))
        for kind in ("build.linked", "build.relinked", "build.rules_changed", "build.unlinked")
        for actor, detail in audit_events(world.server, kind)
    ]
    assert changes == [("build.linked", "alice", "127.0.0.1"), ("build.unlinked", "alice", "127.0.0.1")]


def test_write_is_not_enough_on_the_pages_or_the_cli(world: World) -> None:
    """The settings page refuses a write member, and the CLI refuses to link on behalf of an
    account that does not administer the repository (it may for one that does)."""
    web = WebClient(world.server)
    try:
        assert (
            web.post("/login", {"username": "bobby", "password": world.passwords["bobby"]}).status_code == 303
        )
        page = "/r/acme/app"
        saved = web.post(
            f"{page}/settings/builds", {"source_url": HIJACK, "source_name": "main"}, form_page=page
        )
        removed = web.post(f"{page}/settings/builds/delete", {}, form_page=page)
        assert (saved.status_code, removed.status_code) == (403, 403)
    finally:
        web.close()

    refused = world.cli("build", "link", "acme/app", HIJACK, "--created-by", "bobby", check=False)
    assert refused.returncode != 0, refused.stdout
    assert "bobby may not link acme/app" in refused.stderr, refused.stderr
    world.cli("build", "link", "acme/app", ORIGINAL, "--created-by", "alice")
    shown = httpx.get(f"{build_api(world.server)}/repositories/acme/app/link", timeout=30).json()
    assert (shown["source_url"], shown["created_by"]) == (ORIGINAL, "alice")
