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
    throttle.failed("user:a", "ip:1")
    throttle.failed("user:a", "ip:1")
    assert throttle.retry_after("user:a") is None
    throttle.failed("user:a", "ip:1")
    assert throttle.retry_after("user:a") == 120
    assert throttle.retry_after("user:b", "ip:1") == 120
    assert throttle.retry_after("user:b", "ip:2") is None
    clock.now += 119
    assert throttle.retry_after("user:a") == 1
    clock.now += 2
    assert throttle.retry_after("user:a", "ip:1") is None


def test_failures_outside_the_window_are_forgotten() -> None:
    clock = Clock()
    throttle = LoginThrottle(3, window_seconds=60, lockout_seconds=120, clock=clock)
    for _ in range(2):
        throttle.failed("user:a")
    clock.now += 61
    throttle.failed("user:a")
    assert throttle.retry_after("user:a") is None


def test_success_clears_the_account() -> None:
    throttle = LoginThrottle(2, 60, 60, clock=Clock())
    throttle.failed("user:a")
    throttle.succeeded("user:a")
    throttle.failed("user:a")
    assert throttle.retry_after("user:a") is None


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
