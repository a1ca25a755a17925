"""The builds domain without Docker: rules, push events, signatures, secrets and the queue's claims."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from dockyard.builds.errors import InvalidRequest, QueueFull, Unauthorized
from dockyard.builds.queue import BuildQueue, LeaseLost
from dockyard.builds.rules import DEFAULT_RULES, Rule, RuleError, Variable, matches, parse_rule
from dockyard.builds.runtime import ANONYMOUS, Masker, RegistryGrant
from dockyard.builds.secrets import SecretBox
from dockyard.builds.service import BuildService, check_source
from dockyard.builds.triggers import github_push, gitlab_push, verify_github, verify_gitlab
from dockyard.builds.worker import BuildWorker, LogBuffer
from dockyard.config import BuildSettings
from dockyard.db.engine import Database
from tests.clock import FakeClock

COMMIT = "a" * 40


# -- rules ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "source_type", "ref", "tag"),
    [
        (Rule("branch", "main", "latest"), "branch", "main", "latest"),
        (Rule("branch", "main", "latest"), "tag", "main", None),
        (Rule("branch", "main", "latest"), "branch", "mainline", None),
        (Rule("tag", "/^v([0-9.]+)$/", "{\\1}"), "tag", "v1.2", "1.2"),
        (Rule("tag", "/^v([0-9.]+)$/", "{\\1}"), "tag", "v1.2-rc", None),
        (Rule("tag", "/^v([0-9]+)\\.([0-9]+)/", "{\\2}-{\\1}"), "tag", "v1.20", "20-1"),
        (Rule("branch", "/^feature-/", "{sourceref}"), "branch", "feature-x", "feature-x"),
        (Rule("branch", "/./", "{sourceref}"), "branch", "with/slash", None),  # not a valid Docker tag
        (Rule("tag", "/(x)?v/", "t{\\1}{\\5}"), "tag", "v", "t"),  # unmatched groups are empty
    ],
)
def test_rule_tags(rule: Rule, source_type: str, ref: str, tag: str | None) -> None:
    assert rule.docker_tag_for(source_type, ref) == tag


@pytest.mark.parametrize(
    "bad",
    [
        {"source_type": "commit"},
        {"source_name": ""},
        {"source_name": "/([/"},
        {"docker_tag": "bad tag"},
        {"docker_tag": ""},
    ],
)
def test_bad_rules_are_refused(bad: dict[str, str]) -> None:
    with pytest.raises(RuleError):
        Rule(**bad).check()  # type: ignore[arg-type]  # check(): the expression, when saved


def test_default_rules_and_autobuild() -> None:
    assert [m.tags for m in matches([], "branch", "master")] == [("latest",)]
    assert matches([], "branch", "dev") == []
    assert DEFAULT_RULES[0].source_name == "main"
    off = Rule("branch", "main", "latest", autobuild=False)
    assert matches([off], "branch", "main") == []
    assert [m.tags for m in matches([off], "branch", "main", manual=True)] == [("latest",)]


def test_parse_rule() -> None:
    assert parse_rule("tag:/^v([0-9.]+)$/={\\1}") == Rule("tag", "/^v([0-9.]+)$/", "{\\1}")
    with pytest.raises(RuleError):
        parse_rule("main=latest")


# -- push events --------------------------------------------------------------------------------


def test_github_push_and_signature() -> None:
    body = json.dumps(
        {"ref": "refs/tags/v1", "after": COMMIT, "head_commit": {"message": "x [build skip]"}}
    ).encode()
    push = github_push(body)
    assert push is not None and (push.source_type, push.ref, push.commit, push.skipped) == (
        "tag",
        "v1",
        COMMIT,
        True,
    )
    good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    verify_github("s3cret", body, good)
    for bad in (None, "", good.upper(), good[:-1], "sha1=" + good[7:]):
        with pytest.raises(Unauthorized):
            verify_github("s3cret", body, bad)
    assert (
        github_push(json.dumps({"ref": "refs/heads/x", "after": "0" * 40, "deleted": True}).encode()) is None
    )
    with pytest.raises(InvalidRequest):
        github_push(json.dumps({"ref": "refs/pull/1/head", "after": COMMIT}).encode())
    with pytest.raises(InvalidRequest):
        github_push(json.dumps({"ref": "refs/heads/x", "after": "HEAD"}).encode())


def test_gitlab_push_and_token() -> None:
    body = json.dumps(
        {"ref": "refs/heads/main", "checkout_sha": COMMIT, "commits": [{"id": COMMIT, "message": "go"}]}
    ).encode()
    push = gitlab_push(body)
    assert push is not None and (push.source_type, push.ref, push.message) == ("branch", "main", "go")
    verify_gitlab("tok", "tok")
    with pytest.raises(Unauthorized):
        verify_gitlab("tok", "tok2")


def test_secrets_are_encrypted_and_masked(tmp_path: Path) -> None:
    box = SecretBox.from_data_dir(tmp_path)
    sealed = box.seal({"password": "hunter22"})
    assert b"hunter22" not in sealed and box.open(sealed) == {"password": "hunter22"}
    assert (tmp_path / "keys" / "secrets.key").stat().st_mode & 0o077 == 0
    assert SecretBox.from_data_dir(tmp_path).open(sealed) == {"password": "hunter22"}  # same key reloaded
    with pytest.raises(ValueError):
        SecretBox.from_data_dir(tmp_path / "other").open(sealed)
    assert Masker(["hunter22"])("login hunter22 ok") == "login ******** ok"


# -- the queue ------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue_parts(tmp_path: Path, database: Database, clock: FakeClock) -> tuple[BuildService, BuildQueue]:
    box = SecretBox.from_data_dir(tmp_path)
    return BuildService(database, box, queue_limit=3), BuildQueue(
        database, box, lease_seconds=2, max_attempts=2, clock=clock
    )


def _queue_one(service: BuildService, count: int = 1) -> None:
    rule = Rule(variables=(Variable("TOKEN", "sekrit", secret=True),))

    async def work() -> None:
        made = await service.create_link(
            "acme/app", "https://git.example.com/src.git", [rule], credentials={"password": "pw"}
        )
        link = made.link
        for _ in range(count):
            await service.enqueue(
                link, matches(link.rules, "branch", "main"), trigger="manual", source_type="branch",
                ref="main", commit=COMMIT,
            )  # fmt: skip

    anyio.run(work)


def test_a_build_is_claimed_exactly_once(queue_parts: tuple[BuildService, BuildQueue]) -> None:
    service, queue = queue_parts
    _queue_one(service)
    claims: list[object] = []

    def claim(owner: str) -> None:
        claims.append(anyio.run(queue.claim, owner))

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [job] = [c for c in claims if c is not None]
    assert job.credentials == {"password": "pw"}  # type: ignore[attr-defined]
    assert job.variables[0].value == "sekrit"  # type: ignore[attr-defined]


def test_queue_limit(queue_parts: tuple[BuildService, BuildQueue]) -> None:
    service, _ = queue_parts
    _queue_one(service, 3)
    with pytest.raises(QueueFull):
        _queue_one(service)


def test_expired_lease_is_retried_then_failed(
    queue_parts: tuple[BuildService, BuildQueue], clock: FakeClock
) -> None:
    service, queue = queue_parts
    _queue_one(service)

    async def work() -> None:
        first = await queue.claim("w1")
        assert first is not None
        assert await queue.reap() == 0  # the lease still runs
        clock.advance(1.9)
        assert await queue.reap() == 0  # still does, a moment before its end
        clock.advance(0.3)
        assert await queue.reap() == 1
        with pytest.raises(LeaseLost):  # the old worker can no longer write
            await queue.advance(first.build.id, "w1", "success")
        second = await queue.claim("w2")
        assert second is not None and second.build.attempts == 2
        clock.advance(2.2)
        assert await queue.reap() == 1
        build = await service.build(first.build.id)
        assert build.state == "failed" and build.finished_at is not None and "no attempts" in str(build.error)

    anyio.run(work)


class _StuckRunner:
    """Prints a line, then hangs like a build waiting forever on the network."""

    async def run(self, job: object, token: object, log: Callable[[str], None], advance: object) -> str:
        log("started")
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


def test_a_build_past_its_timeout_fails(queue_parts: tuple[BuildService, BuildQueue]) -> None:
    service, queue = queue_parts
    _queue_one(service)
    settings = BuildSettings(timeout_seconds=1, lease_seconds=2, poll_seconds=0.05)

    async def no_token(job: object) -> RegistryGrant:
        return ANONYMOUS

    worker = BuildWorker(settings, queue, _StuckRunner(), no_token)  # type: ignore[arg-type]

    async def work() -> None:
        with anyio.move_on_after(10):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(worker.run)
                while (await service.builds("acme/app"))[0].state != "failed":
                    await anyio.sleep(0.1)
                tasks.cancel_scope.cancel()
        [build] = await service.builds("acme/app")
        assert build.state == "failed" and build.error == "timed out after 1 seconds"
        assert [line.text for line in await service.log(build.id)][-2:] == [
            "started",
            "Build failed: timed out after 1 seconds",
        ]

    anyio.run(work)


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://github.com/o/r.git", True),
        ("git@github.com:o/r.git", True),
        ("ssh://git@host:22/o/r.git", True),
        ("git://127.0.0.1:9418/r.git", True),
        ("/srv/git/r.git", False),
        ("file:///srv/git/r.git", False),
        ("./r.git", False),
        ("ext::sh -c touch% /tmp/pwned", False),
        ("ext::sh", False),
        ("-oProxyCommand=x@host:r.git", False),
        ("ssh://-oProxyCommand=x/r.git", False),
        ("", False),
    ],
)
def test_source_urls(url: str, accepted: bool) -> None:
    if accepted:
        check_source(url)
    else:
        with pytest.raises(InvalidRequest):
            check_source(url)


# -- the log buffer ---------------------------------------------------------------------------------


def test_a_flush_cancelled_mid_write_still_stores_its_lines_once() -> None:
    """The periodic flusher is cancelled when a build ends, possibly while it writes: the lines it
    took are stored anyway, once, before the build's last line (CI saw a failed build's log hold
    only "Build failed: ...")."""

    stored: list[str] = []

    class SlowQueue:
        async def append_log(self, build_id: int, lines: list[str]) -> None:
            await anyio.sleep(0.2)  # the write takes a while; the cancel lands during it
            stored.extend(lines)

    buffer = LogBuffer(SlowQueue(), 1, Masker([]))  # type: ignore[arg-type]

    async def build_ends_while_flushing() -> None:
        buffer.write("hooks/push is not supported here")
        async with anyio.create_task_group() as flusher:
            flusher.start_soon(buffer.flush)
            await anyio.sleep(0.05)
            flusher.cancel_scope.cancel()
        buffer.note("Build failed: see the log")
        await buffer.flush()

    anyio.run(build_ends_while_flushing)
    assert stored == ["hooks/push is not supported here", "Build failed: see the log"]
