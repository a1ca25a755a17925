"""Credentials never ride in a source URL, and a link's secrets appear on no page and in no API
answer (issue 8 item 8, the API side; masking in build logs is the runner's).

Attack defended: ``https://user:token@host/...`` was accepted as a source and then shown to
everyone who may read the repository: on the public builds page, in the link API and in the
build log. Such URLs are refused now, saying where credentials go; the link's username and
password, its deploy key and its secret variables are stored encrypted and never shown.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from dockyard.builds.errors import InvalidRequest
from dockyard.builds.secrets import SecretBox
from dockyard.builds.service import BuildService
from dockyard.db.engine import make_database
from dockyard.migrations import upgrade
from tests.access.helpers import World, threaded_world
from tests.security._build_access import NO_WORKER, SERVER_ENV, build_api
from tests.web.conftest import WebClient

URL_TOKEN = "tok3n-in-the-URL-5e3c2"
PASSWORD = "link-password-8d1f0a"
DEPLOY_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\ndeploy-key-body-77c1\n-----END OPENSSH PRIVATE KEY-----\n"
SECRET_VALUE = "secret-variable-value-3b9e"
SECRETS = (URL_TOKEN, PASSWORD, "deploy-key-body-77c1", SECRET_VALUE)
CREDENTIAL_URLS = (
    f"https://builder:{URL_TOKEN}@git.example.com/alice/app.git",
    f"https://{URL_TOKEN}@git.example.com/alice/app.git",
    f"https://git.example.com/alice/app.git?private_token={URL_TOKEN}",
    f"ssh://git:{URL_TOKEN}@git.example.com/alice/app.git",
)
SOURCE = "https://git.example.com/alice/app.git"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with threaded_world(tmp_path / "data", env={**SERVER_ENV, **NO_WORKER}) as running:
        with running.batch() as batch:
            batch.user("alice")
            batch.run("repo", "create", "alice/app", "--public")
        yield running


def test_credentials_in_a_source_url_are_refused_on_every_door(world: World) -> None:
    """The build API, the settings page and the CLI refuse a URL with credentials in it, say
    where credentials go, and never echo the token back."""
    link = f"{build_api(world.server)}/repositories/alice/app/link"
    for url in CREDENTIAL_URLS:
        answer = httpx.put(link, json={"source_url": url}, auth=world.basic("alice"), timeout=30)
        assert answer.status_code == 400, (url, answer.text)
        assert "username and password fields" in answer.json()["message"] and URL_TOKEN not in answer.text

    web = WebClient(world.server)
    try:
        assert (
            web.post("/login", {"username": "alice", "password": world.passwords["alice"]}).status_code == 303
        )
        page = web.post(
            "/r/alice/app/settings/builds",
            {"source_url": CREDENTIAL_URLS[0], "source_type": "branch", "source_name": "main"},
            form_page="/r/alice/app/settings",
        )
        assert page.status_code == 400 and "username and password fields" in page.text, page.text[:300]
        assert URL_TOKEN not in page.text
    finally:
        web.close()

    cli = world.cli("build", "link", "alice/app", CREDENTIAL_URLS[0], check=False)
    assert cli.returncode != 0 and "--password-env" in cli.stderr, cli.stdout + cli.stderr
    assert httpx.get(link, timeout=30).status_code == 404  # nothing was linked


def test_link_secrets_appear_on_no_page_and_in_no_answer(world: World) -> None:
    """A link with a password, a deploy key and a secret variable, and a build queued by a push:
    the link API, the build API, the builds pages and the settings page show none of them."""
    api, alice = build_api(world.server), world.basic("alice")
    body = {
        "source_url": SOURCE,
        "credentials": {"username": "builder", "password": PASSWORD, "ssh_key": DEPLOY_KEY},
        "rules": [
            {"source_name": "main", "variables": [{"name": "TOKEN", "value": SECRET_VALUE, "secret": True}]}
        ],
    }
    made = httpx.put(f"{api}/repositories/alice/app/link", json=body, auth=alice, timeout=30)
    assert made.status_code == 201, made.text
    push = json.dumps({"ref": "refs/heads/main", "after": "a" * 40, "head_commit": {"message": "m"}}).encode()
    signature = "sha256=" + hmac.new(made.json()["webhook_secret"].encode(), push, hashlib.sha256).hexdigest()
    hook = httpx.post(
        made.json()["github_webhook"],
        content=push,
        headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": signature},
        timeout=30,
    )
    assert hook.status_code == 202, hook.text
    [build] = hook.json()["builds"]

    shown = [made.text]
    for path in ("repositories/alice/app/link", "repositories/alice/app/builds", f"builds/{build['id']}"):
        for auth in (None, alice):
            answer = httpx.get(f"{api}/{path}", auth=auth, timeout=30)
            assert answer.status_code == 200, (path, answer.text)
            shown.append(answer.text)
    web = WebClient(world.server)
    try:
        for path in ("/r/alice/app/builds", f"/r/alice/app/builds/{build['id']}"):
            shown.append(web.http.get(path).text)
        assert (
            web.post("/login", {"username": "alice", "password": world.passwords["alice"]}).status_code == 303
        )
        settings = web.http.get("/r/alice/app/settings")
        assert settings.status_code == 200 and SOURCE in settings.text
        shown.append(settings.text)
    finally:
        web.close()
    shown.append(world.cli("build", "list", "alice/app").stdout)
    for text in shown:
        leaked = [secret for secret in SECRETS if secret in text]
        assert not leaked, (leaked, text[:2000])


def test_older_links_are_shown_without_their_credentials() -> None:
    """Links saved before the rule may hold credentials in their URL: they are shown without."""
    from dockyard.builds.source_secrets import public_url, refuse_credentials

    assert (
        public_url(f"https://builder:{URL_TOKEN}@git.example.com/a.git")
        == "https://********@git.example.com/a.git"
    )
    assert public_url(f"https://git.example.com/a.git?t={URL_TOKEN}") == "https://git.example.com/a.git"
    assert public_url("ssh://git@git.example.com/a.git") == "ssh://git@git.example.com/a.git"
    assert public_url("git@git.example.com:team/a.git") == "git@git.example.com:team/a.git"
    for url in ("ssh://git@git.example.com/a.git", "git@git.example.com:team/a.git", SOURCE, "/srv/git/a"):
        refuse_credentials(url)  # these are fine
    for url in CREDENTIAL_URLS:
        with pytest.raises(InvalidRequest):
            refuse_credentials(url)


def test_saved_credentials_never_follow_a_link_to_another_host(tmp_path: Path) -> None:
    """The settings page keeps the saved credentials when its (never filled in) password field is
    left empty, but only while the source URL stays the same."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    service = BuildService(make_database(url), SecretBox.from_data_dir(tmp_path), queue_limit=10)
    saved = {"username": "builder", "password": PASSWORD}

    async def relink(source: str) -> dict[str, str]:
        link = (await service.create_link("alice/app", source, keep_credentials=True)).link
        return (await service.source(link.id)).credentials

    async def scenario() -> None:
        await service.create_link("alice/app", SOURCE, credentials=saved)
        assert await relink(SOURCE) == saved
        assert await relink("https://elsewhere.example.net/alice/app.git") == {}

    anyio.run(scenario)
