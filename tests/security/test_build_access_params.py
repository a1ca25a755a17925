"""Bad numbers and bad credentials on the build API are a 400 that says what is wrong (issue 9
item 6, the build API's part).

Attack defended: ``?limit=abc``, ``after=x``, ``Last-Event-ID: zz``, ids over 2**63 and
non-ASCII Basic headers answered 500 with a traceback in the log, and ``limit=-5`` returned
every build there is. Each is now refused before it reaches the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator

import httpx
import pytest

from tests.access.helpers import World, threaded_world
from tests.security._build_access import NO_WORKER, SERVER_ENV, build_api

HUGE = str(2**63)  # one past the largest SQL integer
HUGER = "9" * 40


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """alice/app linked, with one queued build (no worker: it stays queued)."""
    data = tmp_path_factory.mktemp("build-params") / "data"
    with threaded_world(data, env={**SERVER_ENV, **NO_WORKER}) as running:
        with running.batch() as batch:
            batch.user("alice")
            batch.run("repo", "create", "alice/app", "--public")
        made = httpx.put(
            f"{build_api(running.server)}/repositories/alice/app/link",
            json={"source_url": "git://127.0.0.1:9/app.git"},
            auth=running.basic("alice"),
            timeout=30,
        )
        assert made.status_code == 201, made.text
        body = json.dumps(
            {"ref": "refs/heads/main", "after": "c" * 40, "head_commit": {"message": "m"}}
        ).encode()
        signature = (
            "sha256=" + hmac.new(made.json()["webhook_secret"].encode(), body, hashlib.sha256).hexdigest()
        )
        hook = httpx.post(
            made.json()["github_webhook"],
            content=body,
            headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": signature},
            timeout=30,
        )
        assert hook.status_code == 202 and len(hook.json()["builds"]) == 1, hook.text
        yield running


def _build_id(world: World) -> int:
    answer = httpx.get(f"{build_api(world.server)}/repositories/alice/app/builds", timeout=30)
    return int(answer.json()["builds"][0]["id"])


def _get_stream(url: str, **options: object) -> httpx.Response:
    """The answer to an SSE request, read only when it is not a stream (a stream never ends)."""
    with httpx.stream("GET", url, timeout=30, **options) as response:  # type: ignore[arg-type]
        if response.status_code != 200:
            response.read()
        return response


def _bad_request(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 400, (response.request.url, response.status_code, response.text)
    message = response.json()["message"]
    assert all(word in message for word in words), message


@pytest.mark.parametrize("limit", ["abc", "-5", "0", "501", HUGER, "1e3", "５"])
def test_a_bad_limit_is_refused(world: World, limit: str) -> None:
    url = f"{build_api(world.server)}/repositories/alice/app/builds"
    _bad_request(httpx.get(url, params={"limit": limit}, timeout=30), "limit")


@pytest.mark.parametrize("after", ["x", "-1", HUGE, HUGER])
def test_a_bad_log_position_is_refused(world: World, after: str) -> None:
    build = _build_id(world)
    _bad_request(httpx.get(f"{build_api(world.server)}/builds/{build}/log", params={"after": after}), "after")
    stream = f"{build_api(world.server)}/builds/{build}/stream"
    _bad_request(_get_stream(stream, params={"after": after}), "after")


@pytest.mark.parametrize("last_event_id", ["zz", "-3", HUGER])
def test_a_bad_last_event_id_is_refused(world: World, last_event_id: str) -> None:
    stream = f"{build_api(world.server)}/builds/{_build_id(world)}/stream"
    _bad_request(_get_stream(stream, headers={"Last-Event-ID": last_event_id}), "Last-Event-ID")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "builds/{}"),
        ("GET", "builds/{}/log"),
        ("GET", "builds/{}/stream"),
        ("POST", "builds/{}/cancel"),
        ("POST", "hooks/{}/github"),
        ("POST", "trigger/{}/token"),
    ],
)
@pytest.mark.parametrize("number", [HUGE, HUGER])
def test_ids_past_the_largest_integer_are_refused(world: World, method: str, path: str, number: str) -> None:
    url = f"{build_api(world.server)}/{path.format(number)}"
    response = _get_stream(url) if method == "GET" else httpx.request(method, url, timeout=30)
    _bad_request(response, "id")


def test_an_id_past_the_largest_integer_on_the_builds_page(world: World) -> None:
    page = httpx.get(f"{world.server.url}/r/alice/app/builds/{HUGER}", headers={"Accept": "text/html"})
    assert page.status_code == 400 and "text/html" in page.headers["content-type"], page.text[:300]


@pytest.mark.parametrize(
    "header",
    [
        b"Basic \xff\xfe\xfd",  # not ASCII at all
        b"Basic " + base64.b64encode(b"alice:\xff\xfe"),  # base64, but not UTF-8 inside
        b"Basic " + base64.b64encode("älice:pässword".encode("latin-1")),
        b"Basic not-base64!",
        b"Basic " + base64.b64encode(b"no-colon"),
        b"Bearer abc",
    ],
)
def test_malformed_basic_credentials_are_refused(world: World, header: bytes) -> None:
    url = f"{build_api(world.server)}/repositories/alice/app/builds"
    _bad_request(httpx.get(url, headers={"Authorization": header}, timeout=30))


def test_good_values_still_work(world: World) -> None:
    api, build = build_api(world.server), _build_id(world)
    listed = httpx.get(f"{api}/repositories/alice/app/builds", params={"limit": "1"}, timeout=30)
    assert listed.status_code == 200 and len(listed.json()["builds"]) == 1, listed.text
    assert httpx.get(f"{api}/builds/{build}/log", params={"after": "0"}, timeout=30).status_code == 200
    unicode_password = httpx.get(
        f"{api}/repositories/alice/app/builds", auth=("alice", "pässwörd"), timeout=30
    )
    assert unicode_password.status_code == 401, unicode_password.text  # well-formed, just wrong
