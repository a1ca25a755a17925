"""Keyset pagination of the listings (issue 12, item 1): repositories (every ordering, search's
relevance), tags and the administrators' users, on SQLite and PostgreSQL.

Following ``next_cursor`` from page to page returns every item exactly once, in the order one
big page has them, with ties in every sort key; an item inserted between two fetches never
repeats or hides an item that was there before; ``previous_cursor`` walks the same pages back; a
cursor page's statements hold no OFFSET (a page number alone still does: the fallback); a cursor
the listing did not make is ``InvalidInput``.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from dockyard.accounts.records import Principal
from dockyard.accounts.service import AccountService
from dockyard.db.engine import Database
from dockyard.hub.errors import InvalidInput
from dockyard.hub.records import Page, RepositoryOrdering, TagOrdering
from dockyard.hub.service import HubService
from dockyard.registry.store import repositories, tags
from tests.hub.conftest import Hub

pytestmark = pytest.mark.anyio

Fetch = Callable[..., Awaitable[Page[Any]]]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Three instants, so that most rows tie on the time; one has microseconds.
INSTANTS = [T0, T0 + timedelta(microseconds=250), T0 + timedelta(hours=1)]
ORDERINGS: list[RepositoryOrdering] = [
    "name",
    "-name",
    "-last_pushed",
    "last_pushed",
    "-stars",
    "-pulls",
    "pulls",
]
PAGE_SIZE = 3
SEEDED = 20


def label(item: Any) -> str:
    return str(getattr(item, "name", None) or item.username)


class Statements(list[tuple[str, Any]]):
    """The SQL the read engine sent, with its parameters."""

    def offsets(self) -> list[int]:
        """The rows each statement told the database to skip. SQLAlchemy's SQLite dialect writes
        ``LIMIT ? OFFSET ?`` for every LIMIT, with 0 when the query asks for no offset; on
        PostgreSQL a query without an offset has no OFFSET at all."""
        found = []
        for statement, params in self:
            if re.search(r"OFFSET \?\s*$", statement):
                found.append(int(params[-1]))  # qmark: the statement's last parameter
            for name in re.findall(r"OFFSET %\((\w+)\)s", statement):
                found.append(int(params[name]))
        return found

    def skipped_rows(self) -> int:
        return sum(self.offsets())


@pytest.fixture
def statements(database: Database) -> Iterator[Statements]:
    seen = Statements()

    def record(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        seen.append((statement, params))

    event.listen(database.read, "before_cursor_execute", record)
    yield seen
    event.remove(database.read, "before_cursor_execute", record)


def no_offset(statements: Statements, dialect: str) -> None:
    """No statement skipped a row by OFFSET; on PostgreSQL none even says OFFSET."""
    assert statements
    assert statements.skipped_rows() == 0, statements
    if dialect == "postgresql":
        assert not [s for s, _ in statements if "OFFSET" in s.upper()], statements


def add_repositories(database: Database, start: int, count: int) -> None:
    """Public library repositories with many ties: three instants, pulls of 0, 5 or 7, stars of 0
    or 1; every third name holds "redis" (search's relevance), one is "redis" itself."""
    rows = []
    for i in range(start, start + count):
        short = "redis" if i == 0 else (f"redis-{i:03d}" if i % 3 == 0 else f"tool-{i:03d}")
        rows.append(
            {
                "name": f"library/{short}",
                "namespace": "library",
                "is_private": False,
                "description": "",
                "full_description": "",
                "created_at": T0,
                "updated_at": INSTANTS[i % 3],
                "pull_count": (0, 5, 5, 7)[i % 4],
                "star_count": i % 2,
            }
        )
    with database.write.begin() as conn:
        conn.execute(repositories.insert(), rows)


async def walk(fetch: Fetch, *, between: Callable[[int], None] | None = None) -> list[Page[Any]]:
    """Every page from the first, following next_cursor; ``between(n)`` runs after page n."""
    pages = [await fetch(page=1, page_size=PAGE_SIZE, cursor=None)]
    while pages[-1].has_next:
        assert len(pages) < 50, "the walk does not end"
        if between is not None:
            between(len(pages))
        last = pages[-1]
        assert last.next_cursor is not None
        pages.append(await fetch(page=last.page + 1, page_size=PAGE_SIZE, cursor=last.next_cursor))
    return pages


async def walk_back(fetch: Fetch, last: Page[Any]) -> list[Page[Any]]:
    """From ``last`` to the first page through the previous links (page 1 is asked for by number)."""
    pages = [last]
    while pages[-1].has_previous:
        assert len(pages) < 50, "the walk does not end"
        current = pages[-1]
        cursor = current.previous_cursor
        assert (cursor is None) == (current.page == 2)
        pages.append(await fetch(page=current.page - 1, page_size=PAGE_SIZE, cursor=cursor))
    return pages[::-1]


def flat(pages: list[Page[Any]]) -> list[str]:
    return [label(item) for page in pages for item in page.items]


async def check_walk(fetch: Fetch) -> None:
    """Forward and back, the pages are one big page's items in order, each once."""
    everything = flat([await fetch(page=1, page_size=100, cursor=None)])
    assert len(everything) == len(set(everything)) > 2 * PAGE_SIZE
    pages = await walk(fetch)
    assert flat(pages) == everything
    assert [p.page for p in pages] == list(range(1, len(pages) + 1))
    assert all(p.count == len(everything) for p in pages)
    back = await walk_back(fetch, pages[-1])
    assert [[label(i) for i in p.items] for p in back] == [[label(i) for i in p.items] for p in pages]


def repository_fetch(hub: HubService, ordering: RepositoryOrdering | None, query: str = "") -> Fetch:
    async def fetch(**kw: Any) -> Page[Any]:
        return await hub.search(None, query, ordering=ordering, **kw)

    return fetch


# -- repositories -------------------------------------------------------------------------------


@pytest.mark.parametrize("ordering", ORDERINGS)
async def test_walking_next_lists_every_repository_once_in_order(
    hub: HubService, database: Database, ordering: RepositoryOrdering
) -> None:
    add_repositories(database, 0, SEEDED)
    await check_walk(repository_fetch(hub, ordering))

    async def in_namespace(**kw: Any) -> Page[Any]:
        return await hub.namespace_repositories(None, "library", ordering=ordering, **kw)

    await check_walk(in_namespace)


async def test_search_relevance_pages_by_keyset(hub: HubService, database: Database) -> None:
    add_repositories(database, 0, SEEDED * 2)
    fetch = repository_fetch(hub, None, "redis")
    await check_walk(fetch)
    first = await fetch(page=1, page_size=PAGE_SIZE, cursor=None)
    assert first.items[0].name == "library/redis"  # the exact name first, as before


@pytest.mark.parametrize("ordering", ORDERINGS)
async def test_a_repository_created_between_pages_repeats_and_hides_nothing(
    hub: HubService, database: Database, ordering: RepositoryOrdering
) -> None:
    add_repositories(database, 0, SEEDED)
    fetch = repository_fetch(hub, ordering)
    before = flat([await fetch(page=1, page_size=100, cursor=None)])
    added = itertools.count(100)

    def create(_: int) -> None:  # ties with the rows around it in every key
        add_repositories(database, next(added), 1)

    seen = flat(await walk(fetch, between=create))
    assert len(seen) == len(set(seen)), "an item came twice"
    assert [name for name in seen if name in before] == before  # every earlier one, in order
    assert len(seen) > len(before)  # and the walk went on over new ones past the cursor


async def test_a_cursor_page_issues_no_offset(
    hub: HubService, database: Database, statements: Statements
) -> None:
    add_repositories(database, 0, SEEDED)
    for ordering in ORDERINGS:
        fetch = repository_fetch(hub, ordering)
        first = await fetch(page=1, page_size=PAGE_SIZE, cursor=None)
        statements.clear()
        second = await fetch(page=2, page_size=PAGE_SIZE, cursor=first.next_cursor)
        third = await fetch(page=3, page_size=PAGE_SIZE, cursor=second.next_cursor)
        await fetch(page=2, page_size=PAGE_SIZE, cursor=third.previous_cursor)
        no_offset(statements, database.read.dialect.name)
        statements.clear()
        jumped = await fetch(page=2, page_size=PAGE_SIZE, cursor=None)  # a page number alone: OFFSET
        assert statements.offsets() == [PAGE_SIZE]  # the check above can fail
        assert [r.name for r in jumped.items] == [r.name for r in second.items]


# -- tags ---------------------------------------------------------------------------------------

TAG_NAMES = ["latest", "Latest", "a", "B", "b", "_x", "1.0", "1.0.1", "v2", "V2", "z-last", "alpha"]


async def tagged_repository(world: Hub, database: Database) -> tuple[Principal, int, int]:
    alice = await world.user("alice")
    await world.image("alice/app", "first")
    with database.read.connect() as conn:
        repo_id, manifest_id = conn.execute(
            text(
                "SELECT t.repository_id, t.manifest_id FROM tags t JOIN repositories r "
                "ON r.id = t.repository_id WHERE r.name = 'alice/app'"
            )
        ).one()
    return alice, int(repo_id), int(manifest_id)


def add_tags(database: Database, repo_id: int, manifest_id: int, names: list[str], start: int = 0) -> None:
    rows = [
        {
            "repository_id": repo_id,
            "name": n,
            "manifest_id": manifest_id,
            "updated_at": INSTANTS[(start + i) % 3],
        }
        for i, n in enumerate(names)
    ]
    with database.write.begin() as conn:
        conn.execute(tags.insert(), rows)


@pytest.mark.parametrize("ordering", ["name", "-name", "last_pushed", "-last_pushed"])
async def test_walking_next_lists_every_tag_once_in_order(
    hub: HubService, world: Hub, database: Database, statements: Statements, ordering: TagOrdering
) -> None:
    alice, repo_id, manifest_id = await tagged_repository(world, database)
    add_tags(database, repo_id, manifest_id, TAG_NAMES)

    async def fetch(**kw: Any) -> Page[Any]:
        return await hub.tags(alice, "alice/app", ordering=ordering, **kw)

    await check_walk(fetch)
    before = flat([await fetch(page=1, page_size=100, cursor=None)])
    added = iter([["new-1", "A0"], ["new-2", "zz"], ["0"], ["new-3"], ["new-4"], ["new-5"]])
    statements.clear()
    seen = flat(await walk(fetch, between=lambda n: add_tags(database, repo_id, manifest_id, next(added), n)))
    assert len(seen) == len(set(seen))
    assert [name for name in seen if name in before] == before
    no_offset(statements, database.read.dialect.name)


# -- users --------------------------------------------------------------------------------------


async def test_walking_next_lists_every_user_once(
    hub: HubService, world: Hub, accounts: AccountService, database: Database, statements: Statements
) -> None:
    admin = await world.user("zadmin", admin=True)
    for name in ("carol", "alice", "bobby", "danny", "erica", "frank", "gregg"):
        await accounts.create_user(name, f"{name}@example.com", "correct horse battery")

    async def fetch(**kw: Any) -> Page[Any]:
        return await hub.admin.users(admin, "", kw["page"], kw["page_size"], kw["cursor"])

    await check_walk(fetch)
    pages = await walk(fetch)
    assert flat(pages)[:2] == ["alice", "bobby"]
    statements.clear()
    await walk(fetch)
    no_offset(statements, database.read.dialect.name)
    statements.clear()
    await fetch(page=3, page_size=PAGE_SIZE, cursor=None)
    assert statements.offsets() == [2 * PAGE_SIZE]


# -- bad cursors --------------------------------------------------------------------------------


def forged(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


BAD_CURSORS = {
    "not base64": "!!!not-a-cursor!!!",
    "not json": base64.urlsafe_b64encode(b"\xff\xfe{").decode(),
    "a list": forged([1, 2]),
    "missing keys": forged({"v": 1, "o": "-pulls", "d": "a"}),
    "another version": forged({"v": 2, "o": "-pulls", "d": "a", "k": [5, 1, "library/x"]}),
    "another direction": forged({"v": 1, "o": "-pulls", "d": "x", "k": [5, 1, "library/x"]}),
    "another ordering": forged({"v": 1, "o": "name", "d": "a", "k": ["library/x"]}),
    "too few keys": forged({"v": 1, "o": "-pulls", "d": "a", "k": [5, 1]}),
    "text for a number": forged({"v": 1, "o": "-pulls", "d": "a", "k": ["5", 1, "library/x"]}),
    "a boolean": forged({"v": 1, "o": "-pulls", "d": "a", "k": [True, 1, "library/x"]}),
    "beyond BIGINT": forged({"v": 1, "o": "-pulls", "d": "a", "k": [2**70, 1, "library/x"]}),
    "a NUL": forged({"v": 1, "o": "-pulls", "d": "a", "k": [5, 1, "library/\x00"]}),
    "a float": forged({"v": 1, "o": "-pulls", "d": "a", "k": [5.5, 1, "library/x"]}),
    "too long": "A" * 5000,
}


@pytest.mark.parametrize("cursor", BAD_CURSORS.values(), ids=BAD_CURSORS.keys())
async def test_a_cursor_the_listing_did_not_make_is_invalid_input(
    hub: HubService, database: Database, cursor: str
) -> None:
    add_repositories(database, 0, 4)
    with pytest.raises(InvalidInput, match="invalid cursor"):
        await hub.search(None, "", ordering="-pulls", page=2, cursor=cursor)


async def test_bad_timestamps_in_tag_and_user_cursors_are_invalid_input(
    hub: HubService, world: Hub, database: Database
) -> None:
    alice, _, _ = await tagged_repository(world, database)
    for stamp in ("yesterday", "2026-13-01T00:00:00+00:00", 7):
        cursor = forged({"v": 1, "o": "last_pushed", "d": "a", "k": [stamp, "a"]})
        if database.read.dialect.name == "sqlite" and isinstance(stamp, str):
            continue  # SQLite's cursor carries the stored text: any text is a position there
        with pytest.raises(InvalidInput, match="invalid cursor"):
            await hub.tags(alice, "alice/app", ordering="last_pushed", page=2, cursor=cursor)
    admin = await world.user("zadmin", admin=True)
    with pytest.raises(InvalidInput, match="invalid cursor"):
        await hub.admin.users(admin, "", 2, 10, forged({"v": 1, "o": "name", "d": "a", "k": [3]}))
