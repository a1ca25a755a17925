"""The access log (issue 9, item 14) keeps no secrets and cannot be forged.

Threats: log files are read by more people than the credentials they might hold (operators,
log shippers, support tickets). A password, a token or a trigger URL's secret written into them
is a leak: so no query strings (``/token?...``), no headers (Authorization, cookies), no bodies,
and no path segment that is a secret. And a client must not be able to write lines of its own
into the log (a percent-encoded newline in the path), which would forge evidence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DockyardServer
from tests.security.test_server_proxies import PASSWORD, create_user
from tests.server.test_serve import PLAIN_LINE, _wait_for

TRIGGER_SECRET = "Trigger-Secret-0123456789abcdef"
QUERY_SECRET = "Query-Secret-0123456789abcdef"


def logged_ids(server: DockyardServer, ids: list[str]) -> str:
    """The log, once a line for every one of ``ids`` is in it."""

    def complete() -> str | None:
        text = server.log_path.read_text()
        return text if all(request_id in text for request_id in ids) else None

    return _wait_for(complete)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockyardServer]:
    """A server with the default (plain) access log, for the tests that need no other setting."""
    with DockyardServer(tmp_path_factory.mktemp("access-log") / "data") as running:
        yield running


def test_no_credential_reaches_the_access_log(server: DockyardServer) -> None:
    start = len(server.log_path.read_text())  # what this test's requests add, whatever ran before
    create_user(server, "alice")
    responses = [
        httpx.get(
            f"{server.url}/token",
            params={"service": "dockyard", "scope": "repository:alice/app:pull", "offline_token": "true",
                    "account": "alice", "password": QUERY_SECRET},
            auth=("alice", PASSWORD),
            timeout=30,
        ),
        httpx.post(f"{server.url}/v2/users/login", json={"username": "alice", "password": PASSWORD},
                   timeout=30),
        httpx.post(f"{server.url}/api/build/trigger/1/{TRIGGER_SECRET}", timeout=30),
        httpx.get(f"{server.url}/v2/", params={"access_token": QUERY_SECRET}, timeout=30,
                  headers={"Cookie": f"dockyard_session={QUERY_SECRET}"}),
    ]  # fmt: skip
    token = responses[0].json()["token"]
    responses.append(httpx.get(f"{server.url}/v2/", headers={"Authorization": f"Bearer {token}"}, timeout=30))
    text = logged_ids(server, [r.headers["x-request-id"] for r in responses])[start:]
    for secret in (PASSWORD, QUERY_SECRET, TRIGGER_SECRET, token, "Basic ", "Bearer", "?"):
        assert secret not in text, secret
    assert "POST /api/build/trigger/{link_id}/{token} " in text  # the template stands in


def test_a_path_cannot_write_a_line_of_its_own(server: DockyardServer) -> None:
    forged = "2026-01-01T00:00:00.000Z 6.6.6.6 GET /admin 200 0B 0.1ms deadbeefdeadbeef"
    assert server.env.get("DOCKYARD_ACCESS_LOG", "plain") == "plain"
    response = httpx.get(f"{server.url}/x%0a{forged.replace(' ', '%20')}", timeout=30)
    text = logged_ids(server, [response.headers["x-request-id"]])
    lines = [line for line in text.splitlines() if PLAIN_LINE.match(line)]
    assert not any(line.startswith("2026-01-01") for line in text.splitlines())
    (own,) = [line for line in lines if line.endswith(response.headers["x-request-id"])]
    assert "/x%0a2026-01-01T00:00:00.000Z%206.6.6.6" in own


def test_json_lines_stay_one_object_per_request(tmp_path: Path) -> None:
    with DockyardServer(tmp_path / "data", env={"DOCKYARD_ACCESS_LOG": "json"}) as server:
        response = httpx.get(f"{server.url}/x%0a%22%7D%7B%22status%22:200", timeout=30)
        text = logged_ids(server, [response.headers["x-request-id"]])
    entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    (own,) = [e for e in entries if e["request_id"] == response.headers["x-request-id"]]
    assert own["status"] == 404 and own["path"] == "/x%0a%22%7D%7B%22status%22:200"
