"""Search: Docker Hub's /v2/search/repositories, the v1 endpoints, and `docker search` itself."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import ORG_PRIVATE
from tests.api.helpers import PAGE, SEARCH_RESULT, Hub, assert_typed
from tests.conftest import Cli

V1_PAGE = {
    "num_pages": int,
    "num_results": int,
    "results": list,
    "page_size": int,
    "query": str,
    "page": int,
}
V1_RESULT = {"name": str, "description": str, "star_count": int, "is_official": bool, "is_automated": bool}


@pytest.fixture(scope="module")
def findable(hub: Hub) -> str:
    """A word, and two repositories described with it: one public, one private (alice's)."""
    word = "zebrafish"
    api = hub.api("alice")
    for name, private in ((f"{word}-public", False), (f"{word}-private", True)):
        body = {"namespace": "alice", "name": name, "description": f"all about {word}", "is_private": private}
        response = api.post("/v2/repositories/", json=body)
        assert response.status_code in (201, 409), response.text
    return word


def test_v2_search(hub: Hub, findable: str) -> None:
    body = hub.api().get("/v2/search/repositories", params={"query": findable}).json()
    assert_typed(body, PAGE)
    assert [r["repo_name"] for r in body["results"]] == [f"alice/{findable}-public"]
    assert_typed(body["results"][0], SEARCH_RESULT)
    assert body["results"][0]["short_description"] == f"all about {findable}"
    assert body["results"][0]["is_official"] is False and body["results"][0]["repo_owner"] == "alice"
    own = hub.api("alice").get("/v2/search/repositories/", params={"query": findable}).json()
    assert {r["repo_name"] for r in own["results"]} == {
        f"alice/{findable}-public",
        f"alice/{findable}-private",
    }


def test_v2_search_pages_and_limits(hub: Hub, findable: str) -> None:
    api = hub.api("alice")
    first = api.get("/v2/search/repositories", params={"query": findable, "page_size": 1}).json()
    assert first["count"] == 2 and len(first["results"]) == 1 and first["next"]
    second = api.get(first["next"]).json()
    assert second["next"] is None and second["previous"]
    assert api.get("/v2/search/repositories", params={"query": "q" * 101}).status_code == 400
    assert api.get("/v2/search/repositories", params={"query": findable, "page": 3}).status_code == 404


def test_v1_ping(hub: Hub) -> None:
    response = httpx.get(f"{hub.url}/v1/_ping")
    assert response.status_code == 200 and response.json() is True


def test_v1_search_shape_and_privacy(hub: Hub, findable: str) -> None:
    anonymous = httpx.get(f"{hub.url}/v1/search", params={"q": findable, "n": 25})
    assert anonymous.status_code == 200
    body = anonymous.json()
    assert_typed(body, V1_PAGE)
    assert body["query"] == findable and body["page"] == 1 and body["page_size"] == 25
    assert [r["name"] for r in body["results"]] == [f"alice/{findable}-public"]
    assert_typed(body["results"][0], V1_RESULT)

    basic = "Basic " + base64.b64encode(f"alice:{hub.world.passwords['alice']}".encode()).decode()
    signed_in = httpx.get(f"{hub.url}/v1/search", params={"q": findable}, headers={"Authorization": basic})
    assert {r["name"] for r in signed_in.json()["results"]} == {
        f"alice/{findable}-public",
        f"alice/{findable}-private",
    }
    assert signed_in.json()["num_results"] == 2
    wrong = "Basic " + base64.b64encode(b"alice:wrong-password").decode()
    assert (
        httpx.get(
            f"{hub.url}/v1/search", params={"q": findable}, headers={"Authorization": wrong}
        ).status_code
        == 401
    )
    bearer = {"Authorization": f"Bearer {hub.login('bobby')}"}
    bobby = httpx.get(f"{hub.url}/v1/search", params={"q": "org secrets"}, headers=bearer).json()
    assert [r["name"] for r in bobby["results"]] == [ORG_PRIVATE]  # through his team's read permission
    assert httpx.get(f"{hub.url}/v1/search", params={"q": "org secrets"}).json()["results"] == []


@pytest.mark.docker
def test_docker_search_prints_the_repository(
    hub: Hub, findable: str, docker_cli: Cli, tmp_path: Path
) -> None:
    docker = Cli(docker_cli.path, env={**docker_cli.env, "DOCKER_CONFIG": str(tmp_path / "docker")})
    result = docker("search", f"{hub.world.server.host}/{findable}")
    lines = result.stdout.strip().splitlines()
    assert re.split(r"\s{2,}", lines[0].strip())[:3] == ["NAME", "DESCRIPTION", "STARS"]
    assert [line.split()[0] for line in lines[1:]] == [f"alice/{findable}-public"]
    assert f"all about {findable}" in lines[1]

    docker(
        "login", hub.world.server.host, "-u", "alice", "--password-stdin", input=hub.world.passwords["alice"]
    )
    signed_in = docker("search", f"{hub.world.server.host}/{findable}")
    names = {line.split()[0] for line in signed_in.stdout.strip().splitlines()[1:]}
    assert names == {f"alice/{findable}-public", f"alice/{findable}-private"}
