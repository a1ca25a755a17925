"""The order in which `make test` hands test files to its pytest-xdist processes: slowest first.

`--dist loadfile` keeps a file on one process and gives each process the next file in the queue
when it runs dry. By default xdist sorts that queue by the number of tests in a file, so the few
long real-client files (one docker build or chromium session after another) came last and one
process ran them alone while the others had finished. Here the queue is sorted by how long each
file took in a measured run (``durations.json`` beside this module, seconds per file), longest
first, so the long files start at once and the short ones fill the gaps at the end. A file the
record does not know (a new one) goes first: it may be slow, and if it is not it costs nothing
there. Only the order changes, never what runs.

``pytest --store-durations`` (with ``make test``: ``PYTEST_ARGS="tests/ --store-durations"``)
rewrites the record from the run, the whole suite only: a partial run would drop the other files.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

DURATIONS = Path(__file__).with_name("durations.json")
UNKNOWN = float("inf")


def add_option(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store-durations",
        action="store_true",
        help=f"write the seconds each test file took to {DURATIONS.name} (whole-suite runs only)",
    )


def _recorded() -> dict[str, float]:
    try:
        record: dict[str, float] = json.loads(DURATIONS.read_text())
    except FileNotFoundError:
        return {}
    return record


def order_slowest_first(items: list[pytest.Item]) -> None:
    """Sort `items` by their file's recorded duration, longest first; a file's tests keep their order.

    Only in an xdist worker: the controller schedules files in the order its first worker collected
    them, and a plain `pytest` run keeps the familiar order."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return
    seconds = _recorded()
    items.sort(key=lambda item: -seconds.get(item.nodeid.split("::", 1)[0], UNKNOWN))


class DurationRecorder:
    """Adds up setup, call and teardown of every test per file (in the controller, from the reports)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[report.nodeid.split("::", 1)[0]] += report.duration

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if "PYTEST_XDIST_WORKER" in os.environ or not self.seconds:
            return
        ordered = dict(
            sorted(((path, round(s, 1)) for path, s in self.seconds.items()), key=lambda kv: -kv[1])
        )
        DURATIONS.write_text(json.dumps(ordered, indent=1) + "\n")


def configure(config: pytest.Config) -> None:
    if config.getoption("--store-durations"):
        config.pluginmanager.register(DurationRecorder(), "dockyard-durations")
