"""The hub API sits in front of the registry: it takes exactly the requests its routes match, and
everything else still meets the registry's token guard and error format."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.access.helpers import cli_here, new_password
from tests.api.helpers import Hub
from tests.conftest import DockyardServer


def test_api_answers_without_a_registry_token(hub: Hub) -> None:
    response = httpx.get(f"{hub.url}/v2/repositories/alice/")
    assert response.status_code == 200
    assert "docker-distribution-api-version" not in response.headers  # not a registry response
    assert "www-authenticate" not in response.headers


def test_the_registry_is_still_guarded(hub: Hub) -> None:
    response = httpx.get(f"{hub.url}/v2/")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert response.headers["docker-distribution-api-version"] == "registry/2.0"


@pytest.mark.parametrize(
    "path",
    [
        "/v2/repositories/a/b/c/manifests/latest",  # under an API prefix, but no API route
        "/v2/namespaces/someone/manifests/latest",
        "/v2/alice/app/tags/list",
        "/v2/access-tokens-like/blobs/uploads/",
    ],
)
def test_registry_paths_under_api_prefixes_reach_the_guard(hub: Hub, path: str) -> None:
    response = httpx.get(f"{hub.url}{path}")
    assert response.status_code == 401, (path, response.text)
    assert "errors" in response.json()
    assert response.headers["www-authenticate"].startswith("Bearer ")


def test_a_wrong_method_on_an_api_path_is_the_apis_405(hub: Hub) -> None:
    response = httpx.put(f"{hub.url}/v2/users/login", json={})
    assert response.status_code == 405
    assert response.json() == {"message": "Method Not Allowed", "errinfo": {}, "detail": "Method Not Allowed"}


def test_registry_push_and_pull_through_the_guard_still_work(hub: Hub, unique: str) -> None:
    image = hub.push_image("alice", f"alice/through-{unique}", "latest")
    token = hub.world.token(f"repository:alice/through-{unique}:pull", user="alice")
    pulled = httpx.get(
        f"{hub.url}/v2/alice/through-{unique}/manifests/latest",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert pulled.status_code == 200 and pulled.headers["docker-content-digest"] == image.digest


def test_the_api_works_on_an_open_registry(fresh_dockyard: DockyardServer, tmp_path: Path) -> None:
    """With DOCKYARD_AUTH=none the registry is open, but the hub API still knows its accounts."""
    password = new_password("opal")
    cli_here(fresh_dockyard.data_dir, "user", "create", "opal", "--password-stdin", input=password)
    login = httpx.post(
        f"{fresh_dockyard.url}/v2/users/login", json={"username": "opal", "password": password}
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    created = httpx.post(
        f"{fresh_dockyard.url}/v2/repositories/",
        json={"namespace": "opal", "name": "box", "is_private": True},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert httpx.get(f"{fresh_dockyard.url}/v2/repositories/opal/box/", headers=headers).status_code == 200
    assert httpx.get(f"{fresh_dockyard.url}/v2/repositories/opal/box/").status_code == 404
    wrong = httpx.post(f"{fresh_dockyard.url}/v2/users/login", json={"username": "opal", "password": "nope"})
    assert wrong.status_code == 401
