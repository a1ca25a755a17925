"""Login throttling and pull rate limits, on a fake clock."""

from __future__ import annotations

from dockyard.auth.ratelimit import PullRateLimiter
from dockyard.auth.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_failures_lock_a_key_out_for_the_lockout() -> None:
    clock = Clock()
    throttle = LoginThrottle(3, window_seconds=60, lockout_seconds=120, clock=clock)
    throttle.failed("a", "1")
    throttle.failed("A", "1")
    assert throttle.retry_after("a", None) is None
    throttle.failed("a", "1")
    assert throttle.retry_after("a", None) == 120
    assert throttle.retry_after("a", "2") == 120
    assert throttle.retry_after("b", "1") == 120
    assert throttle.retry_after("b", "2") is None
    clock.now += 119
    assert throttle.retry_after("a", None) == 1
    clock.now += 2
    assert throttle.retry_after("a", "1") is None


def test_an_ip_gets_a_larger_allowance_than_an_account() -> None:
    throttle = LoginThrottle(2, 60, 60, clock=Clock(), ip_max_failures=4)
    throttle.failed("a", "1")
    throttle.failed("a", "1")
    assert throttle.retry_after("a", "2") is not None
    assert throttle.retry_after("b", "1") is None
    throttle.failed("c", "1")
    throttle.failed("d", "1")
    assert throttle.retry_after("b", "1") is not None


def test_failures_outside_the_window_are_forgotten() -> None:
    clock = Clock()
    throttle = LoginThrottle(3, window_seconds=60, lockout_seconds=120, clock=clock)
    for _ in range(2):
        throttle.failed("a", None)
    clock.now += 61
    throttle.failed("a", None)
    assert throttle.retry_after("a", None) is None


def test_success_clears_the_account() -> None:
    throttle = LoginThrottle(2, 60, 60, clock=Clock())
    throttle.failed("a", None)
    throttle.succeeded("a")
    throttle.failed("a", None)
    assert throttle.retry_after("a", None) is None


def test_pull_limit_counts_gets_not_heads() -> None:
    clock = Clock()
    limiter = PullRateLimiter(2, 5, window=100, clock=clock)
    assert limiter.enabled and limiter.limit(False) == 2 and limiter.limit(True) == 5
    assert limiter.check("ip:1", 2, count=False).remaining == 2
    first = limiter.check("ip:1", 2, count=True)
    assert first.allowed and first.remaining == 1
    assert limiter.check("ip:1", 2, count=True).remaining == 0
    refused = limiter.check("ip:1", 2, count=True)
    assert not refused.allowed and refused.remaining == 0
    assert limiter.check("ip:1", 2, count=False).allowed  # a HEAD past the limit still answers
    assert limiter.check("ip:2", 2, count=True).allowed
    clock.now += 100
    assert limiter.check("ip:1", 2, count=True).remaining == 1


def test_quota_headers_in_docker_hub_format() -> None:
    quota = PullRateLimiter(100, 0, window=21600, clock=Clock()).check("ip:1", 100, count=True)
    headers = dict(quota.headers("1.2.3.4"))
    assert headers[b"ratelimit-limit"] == b"100;w=21600"
    assert headers[b"ratelimit-remaining"] == b"99;w=21600"


def test_limits_are_off_by_default() -> None:
    assert not PullRateLimiter(0, 0, 21600).enabled
