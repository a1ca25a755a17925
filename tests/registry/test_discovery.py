"""Content discovery: tags list and catalog, with ``n`` / ``last`` pagination and Link headers.

Spec: "Content Discovery: Listing Tags" (end-8a, end-8b) and the Docker V2 catalog API.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest

from tests.registry.helpers import (
    OCI_MANIFEST,
    assert_error,
    image_manifest,
    next_link,
    push_blob,
    push_manifest,
    random_layer,
    to_json,
    unique_name,
    unique_repo,
    walk_pages,
)

# Deliberately pushed out of order; sorted they are the same in ASCII and case-insensitive order.
TAGS = ["v10", "latest", "1.0", "beta-1", "alpha", "v2", "1.10", "1.2", "zeta", "2024.01.01"]
SORTED_TAGS = sorted(TAGS)


def tag_all(client: httpx.Client, repo: str, tags: list[str]) -> None:
    config, layer = to_json({"os": "linux"}), random_layer(32)
    push_blob(client, repo, config)
    push_blob(client, repo, layer)
    body = image_manifest(config, [layer])
    for tag in tags:
        push_manifest(client, repo, tag, body, OCI_MANIFEST)


@pytest.fixture
def tagged(client: httpx.Client, repo: str) -> str:
    tag_all(client, repo, TAGS)
    return repo


# Tags --------------------------------------------------------------------------------------------


def test_tags_list_is_sorted(client: httpx.Client, tagged: str) -> None:
    response = client.get(f"/v2/{tagged}/tags/list")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == "application/json"
    assert response.json() == {"name": tagged, "tags": SORTED_TAGS}
    assert "link" not in response.headers


def test_tags_list_n_limits_and_links_to_next_page(client: httpx.Client, tagged: str) -> None:
    response = client.get(f"/v2/{tagged}/tags/list", params={"n": 3})
    assert response.status_code == 200
    assert response.json()["tags"] == SORTED_TAGS[:3]
    assert response.headers["link"] == f'</v2/{tagged}/tags/list?n=3&last={SORTED_TAGS[2]}>; rel="next"'


def test_tags_list_pages_cover_every_tag_once(client: httpx.Client, tagged: str) -> None:
    items, pages = walk_pages(client, f"/v2/{tagged}/tags/list?n=3", "tags")
    assert items == SORTED_TAGS
    assert pages == 4


def test_tags_list_last_returns_tags_after_it(client: httpx.Client, tagged: str) -> None:
    response = client.get(f"/v2/{tagged}/tags/list", params={"n": 2, "last": "beta-1"})
    after = SORTED_TAGS[SORTED_TAGS.index("beta-1") + 1 :]
    assert response.json()["tags"] == after[:2]
    response = client.get(f"/v2/{tagged}/tags/list", params={"last": "beta-1"})
    assert response.json()["tags"] == after


def test_tags_list_last_need_not_be_an_existing_tag(client: httpx.Client, tagged: str) -> None:
    response = client.get(f"/v2/{tagged}/tags/list", params={"last": "b"})
    assert response.json()["tags"] == [t for t in SORTED_TAGS if t > "b"]


def test_tags_list_last_page_has_no_link(client: httpx.Client, tagged: str) -> None:
    response = client.get(f"/v2/{tagged}/tags/list", params={"n": 3, "last": SORTED_TAGS[-4]})
    assert response.json()["tags"] == SORTED_TAGS[-3:]
    assert next_link(response) is None


def test_tags_list_n_larger_than_count(client: httpx.Client, tagged: str) -> None:
    response = client.get(f"/v2/{tagged}/tags/list", params={"n": 100})
    assert response.json()["tags"] == SORTED_TAGS
    assert "link" not in response.headers


def test_tags_list_n_zero_is_empty_without_link(client: httpx.Client, tagged: str) -> None:
    response = client.get(f"/v2/{tagged}/tags/list", params={"n": 0})
    assert response.status_code == 200
    assert response.json()["tags"] in ([], None)
    assert "link" not in response.headers


def test_tags_list_last_past_the_end_is_empty(client: httpx.Client, tagged: str) -> None:
    response = client.get(f"/v2/{tagged}/tags/list", params={"last": "zzzz"})
    assert response.status_code == 200
    assert response.json()["tags"] in ([], None)


@pytest.mark.parametrize("n", ["-1", "abc"])
def test_tags_list_invalid_n_is_400(client: httpx.Client, tagged: str, n: str) -> None:
    response = client.get(f"/v2/{tagged}/tags/list", params={"n": n})
    assert_error(response, 400, "PAGINATION_NUMBER_INVALID")


def test_tags_list_of_unknown_repository_is_name_unknown(client: httpx.Client) -> None:
    assert_error(client.get(f"/v2/{unique_repo()}/tags/list"), 404, "NAME_UNKNOWN")


def test_tags_list_of_repository_without_tags_is_empty(client: httpx.Client, repo: str) -> None:
    push_blob(client, repo, random_layer(10))
    response = client.get(f"/v2/{repo}/tags/list")
    assert response.status_code == 200
    assert response.json()["tags"] in ([], None)


def test_tags_list_after_deleting_the_last_tag_is_empty(client: httpx.Client, repo: str) -> None:
    tag_all(client, repo, ["only"])
    assert client.delete(f"/v2/{repo}/manifests/only").status_code == 202
    response = client.get(f"/v2/{repo}/tags/list")
    assert response.status_code == 200
    assert response.json()["tags"] in ([], None)


def test_tags_are_case_sensitive_and_ascii_ordered(client: httpx.Client, repo: str) -> None:
    tag_all(client, repo, ["b", "B", "a", "A"])
    tags = client.get(f"/v2/{repo}/tags/list").json()["tags"]
    # The spec allows ASCII order or case-insensitive order (where "a"/"A" may tie either way).
    assert sorted(tags) == ["A", "B", "a", "b"]
    assert tags == ["A", "B", "a", "b"] or [t.lower() for t in tags] == ["a", "a", "b", "b"]


# Catalog -----------------------------------------------------------------------------------------


@pytest.fixture
def catalog_repos(client: httpx.Client) -> list[str]:
    prefix = f"cat{unique_name()}"
    repos = [f"{prefix}/{name}" for name in ("delta", "alpha", "charlie", "bravo", "echo")]
    for repo in repos:
        tag_all(client, repo, ["v1"])
    return sorted(repos)


def test_catalog_lists_repositories_sorted(client: httpx.Client, catalog_repos: list[str]) -> None:
    repositories, _ = walk_pages(client, "/v2/_catalog?n=100", "repositories")
    assert repositories == sorted(repositories)
    assert len(set(repositories)) == len(repositories)
    assert [r for r in repositories if r in catalog_repos] == catalog_repos


def test_catalog_n_and_last(client: httpx.Client, catalog_repos: list[str]) -> None:
    prefix = catalog_repos[0].split("/")[0]
    response = client.get("/v2/_catalog", params={"n": 2, "last": prefix})
    assert response.status_code == 200
    assert response.json()["repositories"] == catalog_repos[:2]
    expected = f'</v2/_catalog?n=2&last={quote(catalog_repos[1], safe="")}>; rel="next"'
    unescaped = f'</v2/_catalog?n=2&last={catalog_repos[1]}>; rel="next"'
    assert response.headers["link"] in (expected, unescaped)


def test_catalog_pages_cover_every_repository_once(client: httpx.Client, catalog_repos: list[str]) -> None:
    prefix = catalog_repos[0].split("/")[0]
    items, pages = walk_pages(client, f"/v2/_catalog?n=2&last={prefix}", "repositories")
    ours = [r for r in items if r.startswith(prefix + "/")]
    assert ours == catalog_repos
    assert items == sorted(items)
    assert len(set(items)) == len(items)
    assert pages >= 3


def test_catalog_link_header_shape(client: httpx.Client, catalog_repos: list[str]) -> None:
    response = client.get("/v2/_catalog", params={"n": 1})
    link = response.headers["link"]
    assert re.fullmatch(r'</v2/_catalog\?n=1&last=[^>]+>; rel="next"', link), link


def test_catalog_n_zero_is_empty(client: httpx.Client, catalog_repos: list[str]) -> None:
    response = client.get("/v2/_catalog", params={"n": 0})
    assert response.status_code == 200
    assert response.json()["repositories"] in ([], None)
    assert "link" not in response.headers
