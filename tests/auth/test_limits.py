"""Login throttling and pull rate limits, on a fake clock, with their counts in process memory and
in the database (what replicas share: two throttles on one database count together)."""

from __future__ import annotations

import pytest

from dockyard.auth.counters import CounterStore, DatabaseCounters, MemoryCounters
from dockyard.auth.ratelimit import PullRateLimiter
from dockyard.auth.throttle import LoginThrottle
from dockyard.db.engine import Database
from tests.postgres.fixtures import database_url, postgres_template, postgres_url  # noqa: F401

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_020.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "database"])
def store(request: pytest.FixtureRequest, database: Database) -> CounterStore:
    """Each store on each database (the memory store ignores it: a few cheap duplicate runs)."""
    return MemoryCounters() if request.param == "memory" else DatabaseCounters(database)


async def test_failures_lock_a_key_out_for_the_lockout(store: CounterStore) -> None:
    clock = Clock()
    throttle = LoginThrottle(3, window_seconds=60, lockout_seconds=120, clock=clock, store=store)
    await throttle.failed("a", "1")
    await throttle.failed("A", "1")
    assert await throttle.retry_after("a", None) is None
    await throttle.failed("a", "1")
    assert await throttle.retry_after("a", None) == 120
    assert await throttle.retry_after("a", "2") == 120
    assert await throttle.retry_after("b", "1") == 120
    assert await throttle.retry_after("b", "2") is None
    clock.now += 119
    assert await throttle.retry_after("a", None) == 1
    clock.now += 2
    assert await throttle.retry_after("a", "1") is None


async def test_an_ip_gets_a_larger_allowance_than_an_account(store: CounterStore) -> None:
    throttle = LoginThrottle(2, 60, 60, clock=Clock(), ip_max_failures=4, store=store)
    await throttle.failed("a", "1")
    await throttle.failed("a", "1")
    assert await throttle.retry_after("a", "2") is not None
    assert await throttle.retry_after("b", "1") is None
    await throttle.failed("c", "1")
    await throttle.failed("d", "1")
    assert await throttle.retry_after("b", "1") is not None


async def test_failures_of_an_earlier_window_are_forgotten(store: CounterStore) -> None:
    clock = Clock()
    throttle = LoginThrottle(3, window_seconds=60, lockout_seconds=120, clock=clock, store=store)
    for _ in range(2):
        await throttle.failed("a", None)
    clock.now += 61
    await throttle.failed("a", None)
    assert await throttle.retry_after("a", None) is None


async def test_success_clears_the_account(store: CounterStore) -> None:
    throttle = LoginThrottle(2, 60, 60, clock=Clock(), store=store)
    await throttle.failed("a", None)
    await throttle.succeeded("a")
    await throttle.failed("a", None)
    assert await throttle.retry_after("a", None) is None


async def test_pull_limits_count_gets_not_heads_and_reset_each_window(store: CounterStore) -> None:
    clock = Clock()
    limiter = PullRateLimiter(2, 5, window=100, clock=clock, store=store)
    assert (await limiter.check("ip:1", 2, count=True)).remaining == 1
    assert (await limiter.check("ip:1", 2, count=False)).remaining == 1
    assert (await limiter.check("ip:1", 2, count=True)).allowed
    refused = await limiter.check("ip:1", 2, count=True)
    assert not refused.allowed and refused.remaining == 0
    assert (await limiter.check("ip:1", 2, count=False)).allowed  # a HEAD past the limit still answers
    assert (await limiter.check("ip:2", 2, count=True)).allowed
    clock.now += 100
    assert (await limiter.check("ip:1", 2, count=True)).remaining == 1


async def test_quota_headers_follow_docker_hub() -> None:
    quota = await PullRateLimiter(100, 0, window=21600, clock=Clock()).check("ip:1", 100, count=True)
    assert quota.headers("1.2.3.4") == [
        (b"ratelimit-limit", b"100;w=21600"),
        (b"ratelimit-remaining", b"99;w=21600"),
        (b"docker-ratelimit-source", b"1.2.3.4"),
    ]
    assert not PullRateLimiter(0, 0, 21600).enabled


async def test_replicas_on_one_database_count_together(database: Database) -> None:
    """Two processes' throttles (two stores on one database) lock an account out at the shared
    limit, not at each one's: in process memory an attacker would get the allowance per replica."""
    clock = Clock()
    replicas = [LoginThrottle(4, 60, 60, clock=clock, store=DatabaseCounters(database)) for _ in "ab"]
    for attempt in range(3):
        await replicas[attempt % 2].failed("victim", None)
    assert await replicas[0].retry_after("victim", None) is None
    await replicas[1].failed("victim", None)
    assert await replicas[0].retry_after("victim", None) == 60
    limiters = [PullRateLimiter(3, 3, 100, clock=clock, store=DatabaseCounters(database)) for _ in "ab"]
    allowed = [(await limiters[i % 2].check("ip:9", 3, count=True)).allowed for i in range(5)]
    assert allowed == [True, True, True, False, False]
