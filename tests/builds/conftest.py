"""Fixtures for the automated-builds suite (issue 5): a real `dockyard serve` with its embedded
build worker, real git repositories whose post-receive hook sends GitHub-format push events,
served to the worker by a real `git daemon` on 127.0.0.1, and the real Docker engine doing the
builds. Builds always pull their base image, so it lives in the server's own registry.

    GitSource(root, git, daemon)  a bare repository plus a working clone
        .url                      the git:// URL the worker fetches from
        .hook(url, secret)        install a post-receive hook that POSTs signed push events
        .commit(files, message)   commit in the clone; returns the commit id
        .push(*refs)              push to the bare repository (runs the hook)
    publish_base(server, docker_cli, login=None) -> str   the test base image in `server`'s registry
    dockyard_cli(server, *args) / dockyard_here(...)     `dockyard ARGS --data-dir`: a process / in this one
    link(server, repo, source, *rules, env=...) -> Link   `dockyard build link` through the CLI
    api_link(server, repo, source, *rules, ...) -> Link  the same link through the build API (no CLI
                                                         process: most tests need a link, not the CLI)
    wait_for(server, repo, count) -> list[dict]          the builds once `count` have finished
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.access.helpers import cli_here
from tests.conftest import BASE_IMAGE, OPEN_REGISTRY, Cli, DockyardServer, GitDaemon, require_tool

BUILD_TIMEOUT = 120.0
FINISHED = {"success", "failed", "canceled"}

# Builds have no network: the base image comes from the server itself, and the CI engine runs
# without a bridge. Hooks run in the local busybox image.
BUILD_ENV = {
    "DOCKYARD_BUILD_NETWORK": "none",
    "DOCKYARD_BUILD_POLL_SECONDS": "0.2",
    "DOCKYARD_BUILD_ALLOW_PRIVATE_SOURCES": "true",  # the git daemon listens on 127.0.0.1
    "DOCKYARD_BUILD_HOOK_IMAGE": BASE_IMAGE,
}

HOOK = """\
#!{python}
# post-receive: one GitHub-format push event per updated ref, signed with the link's secret.
import hashlib, hmac, json, subprocess, sys, urllib.request

URL, SECRET = {url!r}, {secret!r}
for line in sys.stdin:
    before, after, ref = line.split()
    message = ""
    if set(after) != {{"0"}}:
        message = subprocess.run(["git", "log", "-1", "--format=%B", after],
                                 capture_output=True, text=True).stdout
    body = json.dumps({{
        "ref": ref, "before": before, "after": after, "deleted": set(after) == {{"0"}},
        "head_commit": {{"id": after, "message": message}},
        "repository": {{"clone_url": {clone_url!r}}},
    }}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(URL, data=body, method="POST", headers={{
        "Content-Type": "application/json", "X-GitHub-Event": "push",
        "X-Hub-Signature-256": signature,
    }})
    with urllib.request.urlopen(request, timeout=30) as response:
        print("dockyard:", response.status, response.read().decode())
"""


class GitSource:
    def __init__(self, root: Path, git: str, daemon: GitDaemon) -> None:
        self.git = git
        self.daemon = daemon
        root.mkdir(parents=True, exist_ok=True)
        self.bare = root / "source.git"
        self.clone = root / "work"
        self._run("init", "-q", "--bare", "-b", "main", str(self.bare), cwd=root)
        self._run("clone", "-q", str(self.bare), str(self.clone), cwd=root)
        self._run("checkout", "-q", "-b", "main")

    def _run(self, *args: str, cwd: Path | None = None) -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
            "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.clone.parent),
        }  # fmt: skip
        result = subprocess.run(
            [self.git, *args], cwd=cwd or self.clone, env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"git {' '.join(args)}: {result.stdout}{result.stderr}"
        return result.stdout + result.stderr

    @property
    def url(self) -> str:
        return self.daemon.url(self.bare)

    def hook(self, url: str, secret: str) -> None:
        path = self.bare / "hooks" / "post-receive"
        path.write_text(HOOK.format(python=sys.executable, url=url, secret=secret, clone_url=str(self.bare)))
        path.chmod(0o755)

    def commit(
        self,
        files: Mapping[str, str],
        message: str,
        executable: tuple[str, ...] = (),
        symlinks: Mapping[str, str] | None = None,
    ) -> str:
        """Write `files` (and `symlinks`: name -> target) in the clone and commit everything."""
        for name, content in files.items():
            (self.clone / name).parent.mkdir(parents=True, exist_ok=True)
            (self.clone / name).write_text(content)
            if name in executable:
                (self.clone / name).chmod(0o755)
        for name, target in (symlinks or {}).items():
            (self.clone / name).parent.mkdir(parents=True, exist_ok=True)
            (self.clone / name).symlink_to(target)
        self._run("add", "-A")
        self._run("commit", "-q", "-m", message)
        return self._run("rev-parse", "HEAD").strip()

    def tag(self, name: str) -> None:
        self._run("tag", "-a", name, "-m", f"release {name}")

    def push(self, *refs: str) -> str:
        """Push and return git's output, which includes what the hook printed."""
        return self._run("push", "-q", "origin", *(refs or ("main",)))


@dataclass(frozen=True)
class Link:
    id: int
    secret: str
    github_url: str
    trigger_url: str


def dockyard_cli(
    server: DockyardServer, *args: str, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "dockyard"), *args, "--data-dir", str(server.data_dir)]
    env = {**os.environ, **server.env, "DOCKYARD_PORT": str(server.port), "DOCKYARD_HOST": "127.0.0.1"}
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=120, check=False, input=input
    )
    if check:
        assert result.returncode == 0, f"$ {' '.join(command)}\n{result.stdout}\n{result.stderr}"
    return result


def dockyard_here(
    server: DockyardServer, *args: str, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """What ``dockyard_cli`` runs, by the CLI app in this process (no interpreter start): for the
    accounts, organisations and repositories a test needs, where the CLI is not what it tests."""
    env = {**server.env, "DOCKYARD_PORT": str(server.port), "DOCKYARD_HOST": "127.0.0.1"}
    return cli_here(server.data_dir, *args, input=input, env=env, check=check)


def link(
    server: DockyardServer, repository: str, source: GitSource, *rules: str, extra: tuple[str, ...] = ()
) -> Link:
    args = ["build", "link", repository, source.url, *(a for r in rules for a in ("--rule", r)), *extra]
    fields = {}
    for line in dockyard_cli(server, *args).stdout.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    made = Link(
        int(fields["link"]), fields["webhook secret"], fields["github webhook"], fields["trigger URL"]
    )
    source.hook(made.github_url, made.secret)
    return made


Auth = tuple[str, str] | None


def api_link(
    server: DockyardServer,
    repository: str,
    source: GitSource,
    *rules: str,
    context: str = ".",
    variables: tuple[tuple[str, str, bool], ...] = (),
    auth: Auth = None,
    hook: bool = True,
) -> Link:
    """What ``link`` makes, through the build API instead of the CLI: the same rules (the CLI's
    TYPE:NAME=TAG specs, parsed by the same code) without a CLI process (seconds of CPU each).
    ``variables``: (name, value, secret); ``auth``: the account the builds push as; ``hook``
    False leaves the source without its post-receive hook (pushes then build nothing)."""
    from dockyard.builds.rules import DEFAULT_RULES, Variable, parse_rule

    extra = tuple(Variable(name, value, secret=secret) for name, value, secret in variables)
    made = [
        dataclasses.replace(r, context=context, variables=extra)
        for r in ([parse_rule(spec) for spec in rules] or list(DEFAULT_RULES))
    ]
    response = httpx.put(
        f"{server.url}/api/build/repositories/{repository}/link",
        json={"source_url": source.url, "rules": [dataclasses.asdict(r) for r in made]},
        auth=auth,
        timeout=30,
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    linked = Link(answer["id"], answer["webhook_secret"], answer["github_webhook"], answer["trigger_url"])
    if hook:
        source.hook(linked.github_url, linked.secret)
    return linked


def builds(server: DockyardServer, repository: str, auth: Auth = None) -> list[dict[str, object]]:
    response = httpx.get(f"{server.url}/api/build/repositories/{repository}/builds", auth=auth, timeout=10)
    assert response.status_code == 200, response.text
    found: list[dict[str, object]] = response.json()["builds"]
    return found


def wait_for(
    server: DockyardServer, repository: str, count: int, timeout: float = BUILD_TIMEOUT, auth: Auth = None
) -> list[dict[str, object]]:
    """The repository's builds, oldest first, once at least `count` of them have finished."""
    deadline = time.monotonic() + timeout
    while True:
        found = builds(server, repository, auth)
        if sum(b["state"] in FINISHED for b in found) >= count:
            return sorted(found, key=lambda b: int(str(b["id"])))
        assert time.monotonic() < deadline, f"builds did not finish within {timeout:.0f}s: {found}"
        time.sleep(0.3)


def log_text(server: DockyardServer, build_id: object, auth: Auth = None) -> str:
    response = httpx.get(f"{server.url}/api/build/builds/{build_id}/log", auth=auth, timeout=10)
    assert response.status_code == 200, response.text
    return "\n".join(line["text"] for line in response.json()["lines"])


def tags(server: DockyardServer, repository: str) -> list[str]:
    response = httpx.get(f"{server.url}/v2/{repository}/tags/list", timeout=10)
    if response.status_code == 404:
        return []
    found: list[str] = response.json().get("tags") or []
    return sorted(found)


def manifest_digest(server: DockyardServer, repository: str, tag: str) -> str | None:
    accept = (
        "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
    )
    response = httpx.head(
        f"{server.url}/v2/{repository}/manifests/{tag}", headers={"Accept": accept}, timeout=10
    )
    return response.headers.get("docker-content-digest") if response.status_code == 200 else None


def dockerfile(*lines: str, base: str) -> str:
    return textwrap.dedent("\n".join([f"FROM {base}", *lines])) + "\n"


@pytest.fixture(scope="session")
def build_server(
    tmp_path_factory: pytest.TempPathFactory, docker_cli: Cli, base_image: str, template_database: Path
) -> Iterator[DockyardServer]:
    """An open Dockyard with its embedded build worker, shared by the suite (each test its own repository)."""
    require_tool("git")
    data = tmp_path_factory.mktemp("builds") / "data"
    with DockyardServer(data, env={**OPEN_REGISTRY, **BUILD_ENV}, template=template_database) as server:
        yield server


_published: dict[tuple[str, str], str] = {}


def publish_base(server: DockyardServer, docker_cli: Cli, login: tuple[str, str] | None = None) -> str:
    """The busybox test base image pushed into `server` (as `login`'s public image under token
    auth), once per server: builds pull their base image, so it must come from a registry."""
    key = (str(server.data_dir), login[0] if login else "")  # ports are reused, data dirs are not
    if key in _published:
        return _published[key]
    target = f"{server.host}/{login[0] if login else 'library'}/test-base:local"
    config = server.data_dir.parent / f"docker-config-{uuid.uuid4().hex[:8]}"
    cli = Cli(docker_cli.path, ("--config", str(config)), docker_cli.env)
    if login:
        cli("login", "-u", login[0], "--password-stdin", server.host, input=login[1])
    cli("tag", BASE_IMAGE, target)
    try:
        cli("push", target)
    finally:
        cli("rmi", target, check=False)
    _published[key] = target
    return target


@pytest.fixture
def build_base(build_server: DockyardServer, docker_cli: Cli) -> str:
    return publish_base(build_server, docker_cli)


@pytest.fixture
def source(tmp_path: Path, git_daemon: GitDaemon) -> GitSource:
    return GitSource(tmp_path, require_tool("git"), git_daemon)


@pytest.fixture
def repository() -> str:
    return f"builds/app-{uuid.uuid4().hex[:8]}"
