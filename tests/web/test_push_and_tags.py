"""The tutorial's path in a real browser against a real server, with the real docker CLI:

sign up -> create a repository -> docker login + docker push -> the Tags page shows the tag with
the pushed digest, its compressed size and platform, and who pushed it -> delete the tag in the
browser -> it is gone from the page and `docker pull` fails.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from dockyard.web.templating import human_size
from tests.conftest import Cli, DockyardServer
from tests.web.conftest import PASSWORD, create_repository, screenshot, sign_up, unique_name

pytestmark = pytest.mark.docker
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json"
)


@pytest.fixture
def docker(docker_cli: Cli, tmp_path: Path, server: DockyardServer) -> Iterator[Cli]:
    """docker with a config folder of its own; images named after this server are removed after."""
    config = tmp_path / "docker-config"
    config.mkdir()
    cli = Cli(docker_cli.path, env={**docker_cli.env, "DOCKER_CONFIG": str(config)})
    yield cli
    listed = cli("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", check=False).stdout.split()
    for reference in listed:
        if reference.startswith(f"{server.host}/"):
            cli("rmi", "--force", reference, check=False)
    cli("logout", server.host, check=False)


def image_size(server: DockyardServer, user: str, repository: str, tag: str) -> tuple[str, int]:
    """The manifest digest and compressed size (config + layers), read from the registry itself."""
    token = httpx.get(
        f"{server.url}/token",
        params={"service": "dockyard", "scope": f"repository:{repository}:pull"},
        auth=(user, PASSWORD),
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": MANIFEST_TYPES}
    response = httpx.get(f"{server.url}/v2/{repository}/manifests/{tag}", headers=headers)
    assert response.status_code == 200, response.text
    manifest = json.loads(response.content)
    assert "layers" in manifest, "the engine pushed an index; this test expects one image"
    size = manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])
    return response.headers["Docker-Content-Digest"], size


def test_push_shows_on_the_tags_page_and_a_deleted_tag_is_gone(
    page: Page, server: DockyardServer, docker: Cli, base_image: str
) -> None:
    user = unique_name("pusher")
    repository = f"{user}/demo"
    sign_up(page, user)
    screenshot(page, "home-signed-in")
    create_repository(page, "demo", description="A demo image", readme="# Demo\n\nBuilt from **busybox**.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("demo")  # the description's # is an h2
    expect(page.locator("#pull-command")).to_have_count(0)  # no tag yet: nothing to pull

    docker("login", server.host, "-u", user, "--password-stdin", input=PASSWORD)
    reference = f"{server.host}/{repository}:v1"
    docker("tag", base_image, reference)
    pushed = docker("push", reference).stdout
    digest = next(word for word in pushed.split() if word.startswith("sha256:"))
    registry_digest, size = image_size(server, user, repository, "v1")
    assert registry_digest == digest
    platform = docker("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", base_image).stdout.strip()

    page.get_by_role("link", name="Tags").click()
    page.wait_for_url(f"**/r/{repository}/tags")
    card = page.locator('li.tag-card[data-tag="v1"]')
    expect(card.get_by_role("heading", name="v1")).to_be_visible()
    row = card.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("code.digest")).to_have_text(digest.removeprefix("sha256:")[:12])
    expect(row.locator("code.digest")).to_have_attribute("title", digest)
    expect(row.locator("td.platform")).to_have_text(platform)
    expect(row.locator("td.size")).to_have_text(human_size(size))
    expect(card.locator(".tag-meta")).to_contain_text("Last pushed just now")
    _wait_for_pusher(page, card_selector='li.tag-card[data-tag="v1"]', user=user)
    screenshot(page, "tags")

    page.get_by_role("link", name="Overview").click()
    expect(page.locator("#pull-command")).to_have_text(f"docker pull {server.host}/{repository}:v1")
    expect(page.locator(".repo-stats")).to_contain_text("Last pushed just now")
    expect(page.locator(".markdown h2")).to_have_text("Demo")
    screenshot(page, "repository")

    page.goto(f"/r/{repository}/tags")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete tag v1").click()
    page.wait_for_url(f"**/r/{repository}/tags")
    expect(page.get_by_role("status").first).to_contain_text("Tag v1 was deleted")
    expect(page.locator('li.tag-card[data-tag="v1"]')).to_have_count(0)
    expect(page.get_by_text("0 tags")).to_be_visible()

    docker("rmi", reference)
    failed = docker("pull", reference, check=False)
    assert failed.returncode != 0
    assert "not found" in failed.stderr or "manifest unknown" in failed.stderr, failed.stderr


def _wait_for_pusher(page: Page, card_selector: str, user: str) -> None:
    """The pusher is recorded by the activity recorder within about a second of the push."""
    deadline = time.monotonic() + 15
    while True:
        meta = page.locator(f"{card_selector} .tag-meta").inner_text()
        if f"by {user}" in meta:
            return
        assert time.monotonic() < deadline, f"pusher never shown: {meta!r}"
        time.sleep(0.5)
        page.reload()
