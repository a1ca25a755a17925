"""A build rule's regular expression cannot stall the server (issue 8 item 9).

Attack defended: a rule ``/^(a+)+$/`` and a push of a ref made of many ``a`` and one ``!`` kept
unrelated requests waiting for seconds, because Python's backtracking engine matched the rule on
the event loop (exponential in the ref's length). Rules are RE2 now, which matches in linear
time whatever the expression, and what RE2 cannot do is refused when the rule is saved.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.access.helpers import World, threaded_world
from tests.security._build_access import NO_WORKER, SERVER_ENV, build_api

EVIL_REF = "refs/heads/" + "a" * 27 + "!"  # ~10 s of backtracking for Python's re
PATIENCE = 1.0  # seconds an unrelated request may take while the push is handled


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("build-rules") / "data"
    with threaded_world(data, env={**SERVER_ENV, **NO_WORKER}) as running:
        running.create_user("alice")
        yield running


def _link(world: World, name: str, *source_names: str) -> httpx.Response:
    rules = [{"source_name": source_name, "docker_tag": "latest"} for source_name in source_names]
    return httpx.put(
        f"{build_api(world.server)}/repositories/{name}/link",
        json={"source_url": "git://127.0.0.1:9/app.git", "rules": rules},
        auth=world.basic("alice"),
        timeout=30,
    )


def test_a_catastrophic_expression_does_not_delay_other_requests(world: World) -> None:
    """The push of a 28-character ref against /^(a+)+$/ is answered at once, and a request made
    meanwhile is not held up."""
    made = _link(world, "alice/app", "/^(a+)+$/")
    assert made.status_code == 201, made.text
    body = json.dumps({"ref": EVIL_REF, "after": "b" * 40, "head_commit": {"message": "m"}}).encode()
    signature = "sha256=" + hmac.new(made.json()["webhook_secret"].encode(), body, hashlib.sha256).hexdigest()
    answer: dict[str, object] = {}

    def push() -> None:
        started = time.monotonic()
        try:
            response = httpx.post(
                made.json()["github_webhook"],
                content=body,
                headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": signature},
                timeout=60,
            )
            answer["status"], answer["builds"] = response.status_code, response.json().get("builds")
        finally:
            answer["seconds"] = time.monotonic() - started

    pusher = threading.Thread(target=push)
    pusher.start()
    time.sleep(0.2)
    started = time.monotonic()
    try:
        unrelated = httpx.get(f"{world.server.url}/v2/", timeout=PATIENCE * 3).status_code
    except httpx.TimeoutException:
        unrelated = None
    waited = time.monotonic() - started
    pusher.join(timeout=90)
    assert unrelated == 401 and waited < PATIENCE, f"GET /v2/ took {waited:.1f}s during the push"
    assert answer.get("status") == 202 and answer.get("builds") == [], answer  # the rule does not match
    assert float(answer["seconds"]) < 5, answer  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expression", "what"),
    [("/^(a)\\1$/", "backreferences"), ("/^v(?=1)/", "lookarounds"), ("/^(?<!x)v/", "lookarounds")],
)
def test_what_re2_cannot_do_is_refused_when_saved(world: World, expression: str, what: str) -> None:
    """An expression RE2 cannot run is refused with a message naming the rule and what is missing."""
    refused = _link(world, "alice/other", "main", expression)
    assert refused.status_code == 400, refused.text
    message = refused.json()["message"]
    assert message.startswith("rule 2:") and "RE2" in message and what in message, message
    assert (
        httpx.get(f"{build_api(world.server)}/repositories/alice/other/link", timeout=30).status_code == 404
    )
