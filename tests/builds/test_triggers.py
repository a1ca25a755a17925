"""Webhook signatures, ping, GitLab's hook, the trigger URL, the CLI trigger, SSE logs, badge, cancel."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest

from tests.builds.conftest import GitSource, api_link, builds, dockerfile, dockyard_cli, log_text, wait_for
from tests.conftest import DockyardServer

pytestmark = pytest.mark.docker


def _signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _push_event(source: GitSource, commit: str, message: str = "change") -> bytes:
    return json.dumps(
        {"ref": "refs/heads/main", "after": commit, "head_commit": {"id": commit, "message": message},
         "repository": {"clone_url": str(source.bare)}}
    ).encode()  # fmt: skip


def test_wrong_signature_is_refused_and_queues_nothing(
    build_server: DockyardServer, source: GitSource, repository: str, build_base: str
) -> None:
    made = api_link(build_server, repository, source)
    source.hook(made.github_url, "not-the-secret")
    commit = source.commit({"Dockerfile": dockerfile(base=build_base)}, "signed wrongly")
    output = source.push("main")  # post-receive cannot refuse a push, but it shows the answer
    assert "HTTP Error 401" in output, output

    body = _push_event(source, commit)
    for signature in (None, "sha256=" + "0" * 64, _signed(made.secret, body + b" "), "md5=abc"):
        headers = {"X-GitHub-Event": "push"} | ({"X-Hub-Signature-256": signature} if signature else {})
        response = httpx.post(made.github_url, content=body, headers=headers)
        assert response.status_code == 401, response.text
    unknown = made.github_url.replace(f"/hooks/{made.id}/", "/hooks/999999/")
    assert (
        httpx.post(unknown, content=body, headers={"X-Hub-Signature-256": _signed("x", body)}).status_code
        == 401
    )
    time.sleep(0.5)
    assert builds(build_server, repository) == []


def test_ping_is_answered(build_server: DockyardServer, source: GitSource, repository: str) -> None:
    made = api_link(build_server, repository, source)
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    headers = {"X-GitHub-Event": "ping", "X-Hub-Signature-256": _signed(made.secret, body)}
    response = httpx.post(made.github_url, content=body, headers=headers)
    assert response.status_code == 200 and response.json()["event"] == "ping"
    assert builds(build_server, repository) == []


def test_gitlab_hook_with_token_builds(
    build_server: DockyardServer, source: GitSource, repository: str, build_base: str
) -> None:
    made = api_link(build_server, repository, source)
    commit = source.commit({"Dockerfile": dockerfile("RUN true", base=build_base)}, "via gitlab")
    source._run("push", "-q", "--no-verify", "origin", "main")  # the hook fires too: remove it first
    gitlab_url = made.github_url.replace("/github", "/gitlab")
    body = json.dumps(
        {"object_kind": "push", "ref": "refs/heads/main", "checkout_sha": commit,
         "commits": [{"id": commit, "message": "via gitlab"}]}
    ).encode()  # fmt: skip
    bad = httpx.post(
        gitlab_url, content=body, headers={"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "no"}
    )
    assert bad.status_code == 401
    good = httpx.post(
        gitlab_url, content=body, headers={"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": made.secret}
    )
    assert good.status_code == 202, good.text
    done = wait_for(build_server, repository, 2)
    assert {b["trigger"] for b in done} == {"github", "gitlab"}
    assert all(b["state"] == "success" and b["commit"] == commit for b in done)


def test_trigger_url_and_cli_trigger(
    build_server: DockyardServer, source: GitSource, repository: str, build_base: str
) -> None:
    rules = ("branch:main=latest", "branch:/^release-(.*)$/=rel-{\\1}")
    made = api_link(build_server, repository, source, *rules, hook=False)  # pushes trigger nothing
    commit = source.commit({"Dockerfile": dockerfile("RUN true", base=build_base)}, "to trigger")
    source._run("push", "-q", "origin", "main", "main:release-7")

    assert httpx.post(made.trigger_url + "x", json={}).status_code == 401
    response = httpx.post(made.trigger_url, json={"source_type": "Branch", "source_name": "release-7"})
    assert response.status_code == 202, response.text
    [queued] = response.json()["builds"]
    assert (queued["source_ref"], queued["tags"], queued["commit"]) == ("release-7", ["rel-7"], commit)

    out = dockyard_cli(build_server, "build", "trigger", repository, "--ref", "main").stdout
    assert f"branch main @ {commit[:12]} -> latest" in out
    done = wait_for(build_server, repository, 2)
    assert [(b["trigger"], b["state"]) for b in done] == [("url", "success"), ("manual", "success")]
    listing = dockyard_cli(build_server, "build", "list", repository).stdout
    assert "success" in listing and "release-7" in listing


def test_log_streams_while_the_build_runs_then_badge_and_cancel(
    build_server: DockyardServer, source: GitSource, repository: str, build_base: str
) -> None:
    api_link(build_server, repository, source)
    slow = dockerfile("RUN for i in 1 2 3 4 5 6; do echo tick-$i; sleep 1; done", base=build_base)
    source.commit({"Dockerfile": slow}, "slow build")
    source.push("main")
    while not (found := builds(build_server, repository)):
        time.sleep(0.1)
    build_id = found[0]["id"]

    seen: list[tuple[float, str]] = []
    with httpx.stream("GET", f"{build_server.url}/api/build/builds/{build_id}/stream", timeout=60) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        event = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                seen.append((time.monotonic(), f"{event}:{json.loads(line[6:])}"))
                if event == "end":
                    break
    ticks = [at for at, text in seen if text.startswith("line:") and "tick-" in text and "echo" not in text]
    assert len(ticks) == 6 and ticks[-1] - ticks[0] > 3, seen  # lines arrived as they were printed
    assert seen[-1][1] == "end:success"

    badge = httpx.get(f"{build_server.url}/api/build/badge/{repository}.svg")
    assert badge.headers["content-type"].startswith("image/svg+xml") and "passing" in badge.text

    source.commit(
        {"Dockerfile": slow.replace("1 2 3 4 5 6", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15")}, "cancel me"
    )
    source.push("main")
    while len(found := builds(build_server, repository)) < 2 or found[0]["state"] != "building":
        time.sleep(0.1)
    while "tick-1" not in log_text(build_server, found[0]["id"]):
        time.sleep(0.1)
    response = httpx.post(f"{build_server.url}/api/build/builds/{found[0]['id']}/cancel")
    assert response.status_code == 200, response.text
    done = wait_for(build_server, repository, 2, timeout=30)
    assert done[1]["state"] == "canceled", log_text(build_server, done[1]["id"])


def test_link_api_and_build_now(
    build_server: DockyardServer, source: GitSource, repository: str, build_base: str
) -> None:
    api = f"{build_server.url}/api/build/repositories/{repository}"
    assert httpx.get(f"{api}/link").status_code == 404
    rules = [
        {"source_type": "branch", "source_name": "main", "docker_tag": "edge",
         "variables": [{"name": "PASS", "value": "do-not-show", "secret": True}]},
    ]  # fmt: skip
    bad = httpx.put(f"{api}/link", json={"source_url": source.url, "rules": [{"source_type": "svn"}]})
    assert bad.status_code == 400
    made = httpx.put(f"{api}/link", json={"source_url": source.url, "rules": rules})
    assert made.status_code == 201, made.text
    assert made.json()["webhook_secret"] and made.json()["trigger_url"].startswith(build_server.url)
    shown = httpx.get(f"{api}/link").json()
    assert "webhook_secret" not in shown and "do-not-show" not in json.dumps(shown)
    assert shown["rules"][0]["docker_tag"] == "edge"

    commit = source.commit({"Dockerfile": dockerfile("RUN true", base=build_base)}, "build me now")
    source._run("push", "-q", "origin", "main")  # no hook installed: nothing builds by itself
    response = httpx.post(f"{api}/trigger", json={"source_type": "branch", "source_name": "main"})
    assert response.status_code == 202, response.text
    [build] = wait_for(build_server, repository, 1)
    assert (build["state"], build["commit"], build["tags"]) == ("success", commit, ["edge"])
    retried = httpx.post(f"{build_server.url}/api/build/builds/{build['id']}/retry")
    assert retried.status_code == 202 and retried.json()["trigger"] == "retry", retried.text
    _, again = wait_for(build_server, repository, 2)
    assert (again["state"], again["commit"]) == ("success", commit)
    assert httpx.delete(f"{api}/link").status_code == 204
    assert httpx.get(f"{api}/link").status_code == 404
