"""The listings' links over HTTP, with the app in process, on SQLite and PostgreSQL: the JSON API's
``next`` (Docker Hub's ``{count, next, previous, results}``) and the web pages' Next links carry a
cursor beside ``page``; following them lists everything once even when a repository is created
between two requests; a malformed cursor is a 400 in each one's own error shape, never a 500.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text

from dockyard.registry.store import tags
from tests.hub.test_keyset_pages import T0, add_repositories, forged
from tests.inprocess import InProcessDockyard

COUNT = 30
NEXT_LINK = re.compile(r'<a rel="next" href="([^"]+)"')
REPO_CARD = re.compile(r'<li class="repo-card">\s*<div class="repo-card-main">\s*<h3><a href="([^"]+)"')
TAG_CARD = re.compile(r'<li class="tag-card" id="[^"]*" data-tag="([^"]+)"')
TAGS = "/v2/namespaces/library/repositories/redis/tags"
# One of each endpoint and a few orderings: tests/hub/test_keyset_pages.py walks every ordering.
LISTINGS = [
    "/v2/namespaces/library/repositories?ordering=-last_updated",
    "/v2/namespaces/library/repositories?ordering=pull_count",
    "/v2/repositories/library/?ordering=star_count",
    "/v2/search/repositories?query=redis",
    f"{TAGS}?ordering=last_updated",
    f"{TAGS}?ordering=-name",
]
BAD_CURSORS = [
    "garbage!",
    forged({"v": 1, "o": "-pulls", "d": "a", "k": [1, 2, "library/x"]}),  # another ordering's
    forged({"v": 1, "o": "name", "d": "a", "k": ["library/\x00"]}),
    forged({"v": 1, "o": "name", "d": "a", "k": [2**80]}),
    "A" * 5000,
]


@pytest.fixture
def app(tmp_path: Path, database_url: str, template_database: Path) -> Iterator[InProcessDockyard]:
    """The app on the test's own database, with 30 public library repositories and 30 tags on
    library/redis (SQL, as the listings read them: the registry's pushes are not under test)."""
    env = {} if database_url.startswith("sqlite") else {"DOCKYARD_DATABASE_URL": database_url}
    with InProcessDockyard(tmp_path / "data", env, template=template_database) as running:
        database = running.services.database
        add_repositories(database, 0, COUNT)
        with database.write.begin() as conn:
            repo_id = conn.execute(
                text("SELECT id FROM repositories WHERE name = 'library/redis'")
            ).scalar_one()
            manifest = conn.execute(
                text(
                    "INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at) "
                    "VALUES (:r, 'sha256:' || :d, 'application/vnd.oci.image.manifest.v1+json', 2, :c, :t) "
                    "RETURNING id"
                ),
                {"r": repo_id, "d": "0" * 64, "c": b"{}", "t": T0},
            ).scalar_one()
            conn.execute(
                tags.insert(),
                [
                    {
                        "repository_id": repo_id,
                        "name": f"v{i % 7}.{i}",
                        "manifest_id": manifest,
                        "updated_at": T0,
                    }
                    for i in range(COUNT)
                ],
            )
        yield running


def results(body: dict[str, Any]) -> list[str]:
    return [str(r.get("repo_name") or r["name"]) for r in body["results"]]


def follow(client: httpx.Client, first: str, between: Any = None) -> tuple[list[str], list[str]]:
    """The items of every page from ``first`` on, following ``next``; and the links followed."""
    seen, links, url = [], [], first
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += results(body)
        url = body["next"]
        if url:
            links.append(url)
            if between is not None:
                between(len(links))
    return seen, links


def test_following_next_in_the_api_lists_everything_once(app: InProcessDockyard) -> None:
    client = app.http
    for listing in LISTINGS:
        everything = results(client.get(f"{listing}&page_size=100").json())
        assert len(everything) == len(set(everything)) > 6, listing
        seen, links = follow(client, f"{listing}&page_size=4")
        assert seen == everything, listing
        for number, link in enumerate(links, start=2):
            query = parse_qs(urlsplit(link).query)
            assert query["page"] == [str(number)] and query["page_size"] == ["4"] and query["cursor"]
        back = client.get(links[-1]).json()["previous"]
        assert parse_qs(urlsplit(back).query)["cursor"]  # the page before the last, by cursor too


def test_a_repository_created_between_api_pages_repeats_and_hides_nothing(app: InProcessDockyard) -> None:
    listing = "/v2/namespaces/library/repositories?ordering=name&page_size=4"
    before = results(app.http.get(listing.replace("page_size=4", "page_size=100")).json())

    def create(n: int) -> None:
        add_repositories(app.services.database, 100 + n, 1)  # sorts among those already listed

    seen, _ = follow(app.http, listing, create)
    assert len(seen) == len(set(seen))
    assert [name for name in seen if name in before] == before


def test_a_bad_cursor_is_a_400_in_the_api_and_on_the_pages(app: InProcessDockyard) -> None:
    """The API's error shape (``message``, ``detail``), the pages' error page; never a 500."""
    for cursor in BAD_CURSORS:
        for url in (
            "/v2/namespaces/library/repositories?ordering=name",
            "/v2/repositories/library/?ordering=name",
            "/v2/search/repositories?query=",
            f"{TAGS}?ordering=name",
        ):
            response = app.http.get(httpx.URL(url).copy_merge_params({"page": 2, "cursor": cursor}))
            assert response.status_code == 400, (url, response.text)
            body = response.json()
            assert body["message"] and body["detail"], body
        for url in ("/explore?sort=name", "/_/redis/tags?sort=name", "/search?q=redis", "/u/library"):
            response = app.http.get(httpx.URL(url).copy_merge_params({"page": 2, "cursor": cursor}))
            assert response.status_code == 400, (url, response.text[-300:])
            assert "cursor" in response.text


def test_the_web_pages_next_links_carry_the_cursor(app: InProcessDockyard) -> None:
    add_repositories(app.services.database, COUNT, COUNT)  # 60: three pages of 25
    pages = {
        "/explore?sort=name": REPO_CARD,
        "/explore?sort=updated": REPO_CARD,
        "/search?q=": REPO_CARD,
        "/u/library": REPO_CARD,
        "/_/redis/tags?sort=name": TAG_CARD,
    }
    for first, item in pages.items():
        seen, url, links = [], first, 0
        while url:
            response = app.http.get(url)
            assert response.status_code == 200, (url, response.text[-500:])
            seen += item.findall(response.text)
            found = NEXT_LINK.search(response.text)
            url = html.unescape(found.group(1)) if found else ""
            if url:
                links += 1
                assert "cursor=" in url and f"page={links + 1}" in url, url
        assert links >= 1 and len(seen) == len(set(seen)), first
        assert len(seen) == (COUNT if "tags" in first else 2 * COUNT), first
