"""The pages of issue 14 against hostile input and other people's browsers, on a real socket
(the app served from a thread of the test process: tests/inprocess.py's ThreadedDockyard).

Attacks defended:
- reading or forging the flash: the cookie that carries a new access token or webhook secret to
  the page after the redirect is sealed with the server key and bound to the browser's CSRF
  token; replayed in another browser, or altered, it shows nothing;
- a hostile image config (deeply nested JSON, a history of any shape, script in an instruction)
  answers the image page without a server error, and the instruction is shown as text;
- the README preview renders nothing for someone who cannot edit the README (no rendering oracle
  on private repositories, no CSRF-less use);
- site administration answers 404 to everyone but site administrators, to reads and writes alike,
  and to an administrator's personal access token;
- deleting one's account needs the password: a browser left logged in cannot do it;
- a profile website can only be an http or https link (no javascript: on the profile page).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DockyardServer, Server
from tests.inprocess import ThreadedDockyard
from tests.web.conftest import CSRF_RE, PASSWORD, WebClient, unique_name
from tests.web.registry_client import RegistryClient
from tests.web.world import dockyard


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, template_database: Path) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("web-security") / "data"
    with ThreadedDockyard(data, template=template_database) as running:
        yield running


def _signed_up(server: DockyardServer) -> tuple[str, WebClient]:
    name, client = unique_name("user"), WebClient(server)
    client.sign_up(name)
    return name, client


def test_a_flash_shows_only_in_the_browser_it_was_made_for(server: DockyardServer) -> None:
    _, owner = _signed_up(server)
    made = owner.post("/settings/tokens", {"label": "ci", "scope": "repo:read", "expires": ""})
    assert made.status_code == 303
    flash = owner.http.cookies["dockyard_flash"]
    assert "dckr_pat_" not in flash  # sealed, not readable

    _, other = _signed_up(server)
    other.http.cookies.set("dockyard_flash", flash)
    assert 'id="new-token"' not in other.http.get("/settings/tokens").text
    altered = flash[:-6] + ("AAAAAA" if not flash.endswith("AAAAAA") else "BBBBBB")
    owner.http.cookies.set("dockyard_flash", altered)
    assert 'id="new-token"' not in owner.http.get("/settings/tokens").text
    owner.http.cookies.set("dockyard_flash", flash)
    assert 'id="new-token"' in owner.http.get("/settings/tokens").text  # the right browser sees it
    owner.close()
    other.close()


def test_hostile_image_configs_show_as_text_without_a_server_error(server: DockyardServer) -> None:
    name, client = _signed_up(server)
    client.post("/repository/create", {"namespace": name, "name": "odd", "visibility": "public"})
    registry = RegistryClient(server, name, PASSWORD)
    deep = b"[" * 100_000 + b'"deep"' + b"]" * 100_000
    configs: list[dict[str, object] | bytes] = [
        b'{"os": "linux", "architecture": "amd64", "config": {"Env": ' + deep + b"}}",
        {"os": ["linux"], "architecture": 5, "history": {"created_by": 1}, "config": []},
        {"history": [{"created_by": "/bin/sh -c <script>alert(1)</script>"}], "config": {"Labels": [1]}},
        b"not json at all",
    ]
    for n, config in enumerate(configs):
        pushed = registry.configured(f"{name}/odd", f"t{n}", config, [b"layer"])
        page = client.http.get(f"/r/{name}/odd/images/{pushed.digest}")
        assert page.status_code == 200, page.text[-500:]
        assert "<script>alert" not in page.text
    client.close()


def test_the_readme_preview_is_for_those_who_may_edit(server: DockyardServer) -> None:
    owner, client = _signed_up(server)
    client.post("/repository/create", {"namespace": owner, "name": "hidden", "visibility": "private"})
    client.post("/repository/create", {"namespace": owner, "name": "shown", "visibility": "public"})
    _, stranger = _signed_up(server)
    token = CSRF_RE.search(stranger.http.get("/").text)
    assert token is not None
    for repo, status in (("hidden", 404), ("shown", 403)):
        answer = stranger.http.post(
            f"/r/{owner}/{repo}/readme/preview",
            data={"full_description": "# x", "csrf_token": token.group(1)},
        )
        assert answer.status_code == status, (repo, answer.status_code)
    no_csrf = client.http.post(f"/r/{owner}/shown/readme/preview", data={"full_description": "# x"})
    assert no_csrf.status_code == 403
    client.close()
    stranger.close()


def test_site_administration_is_a_404_for_everyone_else(server: DockyardServer) -> None:
    admin = unique_name("admin")
    dockyard(server, "user", "create", admin, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    name, client = _signed_up(server)
    for path in ("/admin", "/admin/users", "/admin/audit", "/admin/storage", "/admin/settings"):
        assert client.http.get(path).status_code == 404, path
    token = CSRF_RE.search(client.http.get("/").text)
    assert token is not None
    for action, data in (
        (f"/admin/users/{admin}/disable", {}),
        (f"/admin/users/{name}/make-admin", {}),
        ("/admin/settings/signup", {"signup": "closed"}),
    ):
        answer = client.http.post(action, data={**data, "csrf_token": token.group(1)})
        assert answer.status_code == 404, action
    anonymous = httpx.get(f"{server.url}/admin/users", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    printed = dockyard(server, "token", "create", admin, "--scope", "repo:admin")
    token_text = re.search(r"dckr_pat_[A-Za-z0-9_-]+", printed)
    assert token_text is not None
    with_token = httpx.get(
        f"{server.url}/admin/users", auth=(admin, token_text.group(0)), follow_redirects=False
    )
    assert with_token.status_code in (303, 404)  # the pages take sessions only, never tokens
    assert "Disable" not in with_token.text
    assert httpx.get(f"{server.url}/signup").status_code == 200  # nothing changed
    client.close()


def test_deleting_an_account_needs_its_password(server: DockyardServer) -> None:
    name, client = _signed_up(server)
    refused = client.post(
        "/settings/delete", {"confirm": name, "password": ""}, form_page="/settings/general"
    )
    assert refused.status_code == 400 and "nothing was deleted" in refused.text
    assert client.http.get(f"/u/{name}").status_code == 200
    client.close()


def test_a_profile_website_is_only_ever_a_web_link(server: DockyardServer) -> None:
    name, client = _signed_up(server)
    for website in ("javascript:alert(1)", "data:text/html,x", "JaVaScRiPt://x%0aalert(1)", "vbscript:x"):
        answer = client.post("/settings/general", {"website": website}, form_page="/settings/general")
        assert answer.status_code == 400, website
    page = client.http.get(f"/u/{name}").text
    assert not re.search(r'href="(?!/|https?:)', page.split("<main", 1)[1]), "a non-web link on the profile"
    client.close()
