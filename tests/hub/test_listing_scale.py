"""Listings and search at a realistic size (issue 9, item 2): 20,000 repositories inserted in SQL.

One user made 16,000 repositories in 79 s, after which every anonymous /explore and search took
0.5 s: they read every repository, then filtered, sorted and paged in Python. Now each page is a
fixed number of statements, whatever the number of repositories, ordered and paged by the
database; the results are checked against the old rules (written here as a Python oracle).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import event, inspect, text

from dockyard.accounts.credentials import Passwords
from dockyard.accounts.records import Principal
from dockyard.accounts.service import AccountService
from dockyard.db.engine import Database, make_database
from dockyard.hub.records import RepositoryOrdering, RepositorySummary
from dockyard.hub.service import HubService
from dockyard.hub.stats import ActivityRecorder
from tests.hub.conftest import PASSWORD, Hub
from tests.postgres.fixtures import DATABASES, cloned

pytestmark = pytest.mark.anyio

SIZE = 20_000
NAMESPACES = 200
WORDS = ["redis", "nginx", "postgres", "python", "alpine", "ubuntu", "tools", "cache", "proxy", "worker"]
MAX_STATEMENTS = 3  # the page's ids, their summaries, the count


class Row(dict[str, Any]):
    pass


@pytest.fixture(scope="module", params=DATABASES)
def crowded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crowd]:
    """The crowd's database, built once per database kind for the module: inserting 20,000
    repositories took seconds per test. The tests that read it share it (none writes to it); a test
    that writes takes ``database`` without ``crowd`` and gets a fresh database of its own."""
    with contextlib.ExitStack() as stack:
        if request.param == "postgresql":
            url = stack.enter_context(cloned(request.getfixturevalue("postgres_template")))
        else:
            target = tmp_path_factory.mktemp("crowd") / "dockyard.db"
            shutil.copyfile(request.getfixturevalue("template_database"), target)
            url = f"sqlite:///{target}"
        database = make_database(url)
        stack.callback(database.dispose)
        accounts = AccountService(
            database, Passwords(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
        )
        yield Crowd(database, asyncio.run(_fill(database, accounts)))


@pytest.fixture
def database(request: pytest.FixtureRequest, crowded: Crowd) -> Iterator[Database]:
    """The module's crowd for a test that asks for it, else a fresh database of the same kind."""
    if "crowd" in request.fixturenames:
        yield crowded.database
        return
    db = make_database(request.getfixturevalue("fresh_database_url"))
    yield db
    db.dispose()


@pytest.fixture
def fresh_database_url(crowded: Crowd, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if crowded.database.dialect == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    target = tmp_path / "dockyard.db"
    shutil.copyfile(request.getfixturevalue("template_database"), target)
    return f"sqlite:///{target}"


@pytest.fixture
def crowd(crowded: Crowd, database: Database) -> list[Row]:
    assert database is crowded.database
    return crowded.rows


@dataclass(frozen=True)
class Crowd:
    database: Database
    rows: list[Row]


async def _fill(database: Database, accounts: AccountService) -> list[Row]:
    """20,000 repositories over 200 user namespaces, an organisation and library, a fifth private,
    with pulls, stars and push times; user0 owns acme, bobby reads one private repo of it through a
    team. Written in SQL as the schema at hand stores them (so the test runs against main too)."""

    async def user(name: str) -> int:
        return (await accounts.create_user(name, f"{name}@example.com", PASSWORD)).id

    stargazers = [await user(f"star{n}") for n in range(4)]
    await user("user0")
    await user("bobby")
    await accounts.create_org("acme", "user0")
    await accounts.create_team("acme", "readers")
    await accounts.add_team_member("acme", "readers", "bobby")
    rows = _rows(random.Random(9), len(stargazers))
    start = rows[0]["created_at"]
    with database.write.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO namespaces (name, kind, default_private, created_at) "
                "VALUES (:n, 'user', false, :t)"
            ),
            [{"n": f"user{n}", "t": start} for n in range(1, NAMESPACES)],
        )
        conn.execute(
            text(
                "INSERT INTO repositories (name, namespace, is_private, description, full_description, "
                "created_at, pushed_at) VALUES (:name, :namespace, :is_private, :description, 'README', "
                ":created_at, :pushed_at)"
            ),
            rows,
        )
        ids = dict(conn.execute(text("SELECT name, id FROM repositories")).all())  # type: ignore[arg-type]
        listing_columns = "pull_count" in {c["name"] for c in inspect(conn).get_columns("repositories")}
        pulls = [{"id": ids[r["name"]], "n": r["pull_count"]} for r in rows if r["pull_count"]]
        if listing_columns:  # pulls are counted on the repository's row
            conn.execute(text("UPDATE repositories SET pull_count = :n WHERE id = :id"), pulls)
        else:
            conn.execute(
                text("INSERT INTO repository_stats (repository_id, pull_count) VALUES (:id, :n)"), pulls
            )
        conn.execute(
            text("INSERT INTO stars (user_id, repository_id, created_at) VALUES (:user, :id, :t)"),
            [
                {"user": user, "id": ids[r["name"]], "t": start}
                for r in rows
                for user in stargazers[: r["star_count"]]
            ],
        )
        conn.execute(
            text(
                "INSERT INTO team_permissions (team_id, repository_id, permission, created_at) "
                "SELECT t.id, r.id, 'read', :t FROM teams t, repositories r "
                "WHERE t.name = 'readers' AND r.name = :name"
            ),
            {"t": start, "name": granted(rows)},
        )
        if listing_columns:  # what migration 0007 derives for existing rows
            conn.execute(text("UPDATE repositories SET updated_at = COALESCE(pushed_at, created_at)"))
            conn.execute(
                text(
                    "UPDATE repositories SET star_count = "
                    "(SELECT COUNT(*) FROM stars s WHERE s.repository_id = repositories.id)"
                )
            )
    return rows


def _rows(rng: random.Random, max_stars: int) -> list[Row]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(SIZE):
        namespace = "library" if i % 97 == 0 else ("acme" if i % 89 == 0 else f"user{i % NAMESPACES}")
        pushed = start + timedelta(minutes=rng.randrange(10**6)) if i % 3 else None
        created = start - timedelta(minutes=i)
        rows.append(
            Row(
                name=f"{namespace}/{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i}",
                namespace=namespace,
                is_private=i % 5 == 0 and namespace != "library",
                description=f"A {rng.choice(WORDS).upper()} image" if i % 2 else "",
                created_at=created,
                pushed_at=pushed,
                updated_at=pushed or created,
                pull_count=rng.randrange(50) if i % 4 else 0,
                star_count=rng.randrange(max_stars + 1) if i % 6 == 0 else 0,
            )
        )
    rows.append(Row(rows[-1], name="user1/redis", namespace="user1", is_private=False, description=""))
    return rows


def granted(rows: list[Row]) -> str:
    """The private acme repository bobby's team may read."""
    return next(r["name"] for r in rows if r["namespace"] == "acme" and r["is_private"])


@pytest.fixture
def statements(database: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(database.read, "before_cursor_execute", count)
    yield seen
    event.remove(database.read, "before_cursor_execute", count)


# -- the old rules, in Python ------------------------------------------------------------------------


def visible(rows: list[Row], viewer: str | None, granted: set[str]) -> list[Row]:
    def sees(r: Row) -> bool:
        if not r["is_private"]:
            return True
        return viewer is not None and (r["namespace"] == viewer or r["name"] in granted)

    return [r for r in rows if sees(r)]


ORACLES: dict[RepositoryOrdering, tuple[Callable[[Row], Any], bool]] = {
    "name": (lambda r: r["name"], False),
    "-last_pushed": (lambda r: (r["updated_at"], r["name"]), True),
    "-stars": (lambda r: (r["star_count"], r["pull_count"]), True),
    "-pulls": (lambda r: (r["pull_count"], r["star_count"]), True),
}


def ordered(rows: list[Row], key: Callable[[Row], Any], reverse: bool) -> list[str]:
    rows = sorted(rows, key=lambda r: r["name"])
    rows.sort(key=key, reverse=reverse)
    return [r["name"] for r in rows]


def relevance(text: str) -> Callable[[Row], Any]:
    def key(r: Row) -> Any:
        short = r["name"].split("/", 1)[1]
        return (
            short == text,
            short.startswith(text),
            r["namespace"] == "library",
            r["star_count"],
            r["pull_count"],
        )

    return key


def names(found: list[RepositorySummary]) -> list[str]:
    return [r.name for r in found]


# -- tests ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ordering", ["-pulls", "-stars", "name"])
async def test_explore_pages_are_the_old_order_in_a_few_statements(
    hub: HubService, crowd: list[Row], statements: list[str], ordering: RepositoryOrdering
) -> None:
    expected = ordered(visible(crowd, None, set()), *ORACLES[ordering])
    for page in (1, 2, 400):
        statements.clear()
        found = await hub.search(None, "", ordering=ordering, page=page, page_size=25)
        assert len(statements) <= MAX_STATEMENTS, statements
        assert names(found.items) == expected[(page - 1) * 25 : page * 25]
        assert found.count == len(expected)


async def test_recently_updated_is_newest_push_or_creation_first(
    hub: HubService, crowd: list[Row], statements: list[str]
) -> None:
    found = await hub.search(None, "", ordering="-last_pushed", page_size=50)
    expected = visible(crowd, None, set())
    newest = sorted(expected, key=lambda r: (-r["updated_at"].timestamp(), r["name"]))
    assert names(found.items) == [r["name"] for r in newest[:50]]
    assert len(statements) <= MAX_STATEMENTS


async def test_search_ranks_as_before_for_anonymous_and_signed_in_viewers(
    hub: HubService, world: Hub, crowd: list[Row], statements: list[str], accounts: AccountService
) -> None:
    bobby = await accounts.principal_for("bobby")
    owner = await accounts.principal_for("user0")
    assert bobby is not None and owner is not None
    acme = {r["name"] for r in crowd if r["namespace"] == "acme" and r["is_private"]}
    cases: list[tuple[Principal | None, str | None, set[str]]] = [
        (None, None, set()),
        (bobby, "bobby", {granted(crowd)}),  # through his team's read permission
        (owner, "user0", acme),  # the owner of acme sees all of it
    ]
    for viewer, username, sees in cases:
        for query in ("redis", "REDIS", "image", "-nginx-1"):
            text_ = query.lower()
            matches = [
                r
                for r in visible(crowd, username, sees)
                if text_ in r["name"] or text_ in r["description"].lower()
            ]
            expected = ordered(matches, relevance(text_), True)
            statements.clear()
            found = await hub.search(viewer, query, page=2, page_size=20)
            assert len(statements) <= MAX_STATEMENTS, statements
            assert found.count == len(expected), (username, query)
            assert names(found.items) == expected[20:40], (username, query)
    top = await hub.search(None, "redis", page_size=1)
    assert names(top.items) == ["user1/redis"]  # the exact name first


async def test_namespace_listing_in_a_few_statements(
    hub: HubService, crowd: list[Row], statements: list[str], accounts: AccountService
) -> None:
    owner = await accounts.principal_for("user0")
    for viewer, username in ((None, None), (owner, "user0")):
        for ordering in ("-last_pushed", "-pulls", "name"):
            statements.clear()
            found = await hub.namespace_repositories(viewer, "user0", ordering=ordering, page_size=30)  # type: ignore[arg-type]
            assert len(statements) <= MAX_STATEMENTS
            mine = [r for r in visible(crowd, username, set()) if r["namespace"] == "user0"]
            key, reverse = ORACLES[ordering]  # type: ignore[index]
            if ordering == "-last_pushed":
                assert names(found.items) == [
                    r["name"]
                    for r in sorted(mine, key=lambda r: (-r["updated_at"].timestamp(), r["name"]))[:30]
                ]
            else:
                assert names(found.items) == ordered(mine, key, reverse)[:30]
            assert found.count == len(mine)


async def test_a_page_does_not_grow_with_the_number_of_repositories(
    hub: HubService, crowd: list[Row]
) -> None:
    """A generous bound: main took over half a second per page at this size on an idle machine."""
    calls = [
        lambda: hub.search(None, "", ordering="-pulls"),
        lambda: hub.search(None, "", ordering="-last_pushed", page=300),
        lambda: hub.namespace_repositories(None, "user7"),
    ]
    for call in calls:
        await call()  # warm the page cache
        started = time.perf_counter()
        await call()
        assert time.perf_counter() - started < 0.25


def test_the_listing_statements_are_portable_sql() -> None:
    """They must run on PostgreSQL later: every statement compiles for it, with nothing of SQLite's."""
    from sqlalchemy import func, select
    from sqlalchemy.dialects import postgresql

    from dockyard.accounts.access import readable
    from dockyard.hub import listing
    from dockyard.registry import catalog

    viewer = Principal(username="alice", user_id=1, is_admin=False, token_id=None, token_scopes=None)
    orders = [*listing.ORDERS.values(), listing.relevance("re%dis_")]
    for who in (None, viewer):
        for condition in (None, listing.matching("re%dis_"), listing.in_namespace("alice")):
            where = readable(who) if condition is None else condition & readable(who)
            for order in orders:
                sql = str(
                    select(catalog.repositories.c.id)
                    .where(where)
                    .order_by(*order.order)
                    .offset(5)
                    .limit(5)
                    .compile(dialect=postgresql.dialect())  # type: ignore[no-untyped-call]
                )
                assert "BINARY" not in sql and "instr(" not in sql.lower() and "IFNULL" not in sql.upper()
            count = select(func.count()).select_from(catalog.repositories).where(where)
            assert "count(*)" in str(count.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]


async def test_star_and_pull_counts_on_the_row_follow_stars_pulls_and_deleted_users(
    hub: HubService, world: Hub, accounts: AccountService, recorder: ActivityRecorder
) -> None:
    """The listing columns stay true: a repeated star counts once, an unstar takes it back, a pull
    counts, and a deleted user's stars (gone with the account) are counted again."""
    alice, bobby = await world.user("alice"), await world.user("bobby")
    await hub.create_repository(alice, "alice", "app")
    for viewer in (alice, bobby, bobby):
        await hub.star(viewer, "alice/app")
    assert (await hub.search(None, "app")).items[0].star_count == 2
    await hub.star(alice, "alice/app", False)
    await hub.star(alice, "alice/app")
    await world.image("alice/app", "latest")
    await hub.registry.pull_manifest("alice/app", "latest", None, None)
    await recorder.flush()
    listed = (await hub.search(None, "", ordering="-pulls")).items[0]
    assert (listed.name, listed.star_count, listed.pull_count) == ("alice/app", 2, 1)
    await accounts.delete_user("bobby")
    await hub.recount_stars()
    assert (await hub.namespace_repositories(None, "alice")).items[0].star_count == 1
