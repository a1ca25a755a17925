"""The filters the pages format sizes, times and digests with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dockyard.web.pages.common import safe_next
from dockyard.web.templating import human_size, query_url, relative_time, short_digest, when

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (2_130_000, "2.1 MB"),
        (153_400_000, "153 MB"),
        (None, "-"),
    ],
)
def test_sizes_are_decimal_like_dockers(size: int | None, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=10), "just now"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(hours=5), "5 hours ago"),
        (timedelta(days=40), "1 month ago"),
        (timedelta(days=800), "2 years ago"),
        (-timedelta(minutes=10), "in 10 minutes"),
    ],
)
def test_relative_times(delta: timedelta, text: str) -> None:
    assert relative_time(NOW - delta, NOW) == text
    assert relative_time(None) == "never"


def test_time_elements_carry_the_exact_time() -> None:
    html = str(when(NOW))
    assert 'datetime="2026-11-27T12:00:00+00:00"' in html and 'title="2026-11-27 12:00:00 UTC"' in html


def test_short_digests_and_query_urls() -> None:
    assert short_digest("sha256:" + "0123456789abcdef" * 4) == "0123456789ab"
    assert query_url("/search", {"q": "a b", "page": 2}, page=1) == "/search?q=a+b"
    assert query_url("/explore", {"sort": ""}, page=3) == "/explore?page=3"


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/r/a/b", "/r/a/b"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil", "/"),
        ("", "/"),
    ],
)
def test_next_targets_stay_local(target: str, safe: str) -> None:
    assert safe_next(target) == safe
