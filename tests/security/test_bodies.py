"""Request bodies are limited while they are read, on every endpoint, and early answers reach
clients that send the whole body first (issue 8 item 11, issue 9 items 5 and 9).

Attacks defended:
- memory exhaustion: an unauthenticated 800 MB POST to a hook id that does not exist, and a 400 MB
  login body, grew the server by 1.2 GB each (the build API and the JSON API read whole bodies
  before looking at them); the server's peak RSS must stay within a small bound, chunked or not;
- broken pipes: an answer that comes before the body was read (401 from the guard, 401 for an
  unknown hook, 413) reset the connection, so Python's http.client never saw it.
Each family of routes answers 413 in its own protocol's error format; blob uploads stay unlimited
and a manifest keeps the registry's own limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.access.helpers import World, running_world
from tests.registry.helpers import DOCKER_MANIFEST, push_blob, put_manifest
from tests.security._build_access import SERVER_ENV, Answer, peak_rss, send_body

MIB = 1024 * 1024
LIMIT = 1 * MIB  # DOCKYARD_MAX_BODY_BYTES' default
GROWTH_BOUND = 64 * MIB


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_world(tmp_path_factory.mktemp("bodies") / "data", env=SERVER_ENV) as running:
        running.create_user("alice")
        yield running


def _format(answer: Answer, protocol: str) -> None:
    kind = answer.headers.get("content-type", "")
    if protocol == "page":
        assert kind.startswith("text/html"), answer
        return
    assert kind.startswith("application/json"), answer
    body = answer.json()
    if protocol == "api":  # the hub API's shape, the build endpoints' too (issue 10, item 6)
        assert isinstance(body.get("message"), str) and isinstance(body.get("errinfo"), dict), body
        assert body.get("detail") == body["message"], body
    else:
        assert body["errors"][0]["code"], body


# A fixed session id: test ids must be the same in every xdist worker.
UPLOAD = "/v2/alice/app/blobs/uploads/6f1c2a9e-3b7d-4c4e-9a51-2d8e0f4b7c13"
EARLY_ANSWERS = [
    # method, path, headers, chunked, status, protocol
    ("POST", "/v2/users/login", {"Content-Type": "application/json"}, False, 413, "api"),
    ("POST", "/v2/users/login", {"Content-Type": "application/json"}, True, 413, "api"),
    ("POST", "/token", {"Content-Type": "application/x-www-form-urlencoded"}, False, 413, "registry"),
    ("POST", "/login", {"Content-Type": "application/x-www-form-urlencoded"}, True, 413, "page"),
    ("PUT", "/api/build/repositories/alice/app/link", {}, False, 413, "api"),
    ("POST", "/api/build/repositories/alice/app/trigger", {}, True, 401, "api"),
    ("POST", "/api/build/hooks/424242/github", {"X-GitHub-Event": "push"}, True, 401, "api"),
    ("PATCH", UPLOAD, {"Content-Type": "application/octet-stream"}, False, 401, "registry"),
]


@pytest.mark.parametrize(("method", "path", "headers", "chunked", "status", "protocol"), EARLY_ANSWERS)
def test_an_early_answer_reaches_http_client(
    world: World, method: str, path: str, headers: dict[str, str], chunked: bool, status: int, protocol: str
) -> None:
    """Defends against broken pipes: the answer comes before the 16 MiB body was read, yet a
    client that sends all of it first (http.client) reads the answer, in its protocol's format."""
    answer = send_body(world.server, method, path, 16 * MIB, headers=headers, chunked=chunked)
    assert answer.status == status, answer
    _format(answer, protocol)
    if status == 413:
        assert "larger than the" in answer.body.decode(), answer.body  # says what the limit is


def test_huge_bodies_leave_the_servers_memory_alone(world: World) -> None:
    """Defends against memory exhaustion: 800 MB to a hook that does not exist and 400 MB login
    bodies, with and without Content-Length, are refused while (or before) they are read; the
    server reads at most a bounded amount of each and its peak RSS barely moves."""
    before = peak_rss(world.server)
    attacks = [
        ("/api/build/hooks/987654321/github", 800 * 1000**2, {"X-GitHub-Event": "push"}),
        ("/v2/users/login", 400 * 1000**2, {"Content-Type": "application/json"}),
    ]
    answers = [
        (path, size, send_body(world.server, "POST", path, size, headers=headers, chunked=chunked))
        for path, size, headers in attacks
        for chunked in (False, True)
    ]
    grown = peak_rss(world.server) - before
    assert grown < GROWTH_BOUND, f"peak RSS grew by {grown / MIB:.0f} MiB"
    for path, size, answer in answers:
        assert answer.sent < size, f"the server read all {size} bytes of {path}: {answer}"
    assert httpx.get(f"{world.server.url}/v2/", timeout=10).status_code == 401  # still serving


def test_uploads_stream_and_manifests_keep_their_own_limit(world: World) -> None:
    """The body limit is per route: a blob upload larger than it goes through; a manifest over the
    registry's own limit gets the registry's MANIFEST_INVALID, not the generic 413."""
    token = world.token("repository:alice/app:pull,push", user="alice")
    with world.client(token) as client:
        push_blob(client, "alice/app", b"\0" * (3 * LIMIT))
        too_big = put_manifest(client, "alice/app", "latest", b"{" + b" " * (5 * MIB), DOCKER_MANIFEST)
    assert too_big.status_code == 413, too_big.text
    assert too_big.json()["errors"][0]["code"] == "MANIFEST_INVALID"


def test_a_hook_body_over_its_limit_is_refused(world: World, tmp_path: Path) -> None:
    """Push events have a limit of their own (5 MiB), checked while the body is read."""
    alice = world.basic("alice")
    made = httpx.put(
        f"{world.server.url}/api/build/repositories/alice/hooked/link",
        json={"source_url": "git://127.0.0.1:9/none.git"},
        auth=alice,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    hook = f"/api/build/hooks/{made.json()['id']}/github"
    answer = send_body(world.server, "POST", hook, 6 * MIB, headers={"X-GitHub-Event": "push"}, chunked=True)
    assert answer.status == 413, answer
    _format(answer, "api")
