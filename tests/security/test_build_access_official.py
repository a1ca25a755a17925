"""Official images cannot be replaced through builds (issue 8 item 4).

Attack defended: a user who signs up as ``nginx`` linked and built repository ``nginx``. The
build path did not canonicalise the name, so the user was the namespace's owner, got a push
token for it, and the push landed in ``library/nginx``. Names are canonical now (``nginx`` is
``library/nginx``) and ``library/`` is for site administrators, on the build API and the CLI.
The real worker builds from a real `git daemon` with real docker, so an attack that got through
would change the official image's digest.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

import httpx

from tests.access.helpers import World, threaded_world
from tests.builds.conftest import GitSource, dockerfile, publish_base
from tests.conftest import Cli, GitDaemon, require_tool
from tests.registry.helpers import DOCKER_MANIFEST, OCI_MANIFEST, push_image
from tests.security._build_access import SERVER_ENV, build_api

ACTIVE = ("queued", "building", "pushing")


def _official_digest(world: World) -> str | None:
    token = world.token("repository:library/nginx:pull", user="siteadmin")
    with world.client(token) as client:
        accept = f"{OCI_MANIFEST}, {DOCKER_MANIFEST}"
        found = client.head("/v2/library/nginx/manifests/latest", headers={"Accept": accept})
    return found.headers.get("docker-content-digest")


def _wait_until_no_build_runs(world: World, timeout: float = 240) -> None:
    """Let any build the attack managed to queue finish (on main one builds and pushes)."""
    database = world.data_dir / "dockyard.db"
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as db:
            marks = ",".join("?" * len(ACTIVE))
            (active,) = db.execute(f"SELECT count(*) FROM builds WHERE state IN ({marks})", ACTIVE).fetchone()
        if active == 0:
            return
        assert time.monotonic() < deadline, f"{active} builds still running after {timeout:.0f}s"
        time.sleep(0.5)


def test_a_user_named_nginx_cannot_replace_library_nginx(
    tmp_path: Path, docker_cli: Cli, base_image: str, git_daemon: GitDaemon
) -> None:
    """User ``nginx`` can neither link nor build ``nginx`` or ``library/nginx`` (build API, CLI);
    the official image's digest is the one the site administrator pushed."""
    git = require_tool("git")
    with threaded_world(tmp_path / "data", env=SERVER_ENV) as world:
        with world.batch() as batch:
            batch.user("siteadmin", admin=True)
            batch.user("nginx")
        with world.client(world.token("repository:library/nginx:pull,push", user="siteadmin")) as client:
            official = push_image(client, "library/nginx", "latest")
        nginx = world.basic("nginx")
        base = publish_base(world.server, docker_cli, nginx)  # builds pull their base as the account
        source = GitSource(tmp_path / "git", git, git_daemon)
        source.commit({"Dockerfile": dockerfile('CMD ["echo", "not the official nginx"]', base=base)}, "x")
        source.push("main")
        url = source.url

        answers = {}
        for name in ("nginx", "library/nginx"):
            api = f"{build_api(world.server)}/repositories/{name}"
            link = httpx.put(f"{api}/link", json={"source_url": url}, auth=nginx, timeout=30)
            answers[f"link {name}"] = (link.status_code, link.text)
            build = httpx.post(f"{api}/trigger", json={}, auth=nginx, timeout=60)
            answers[f"build {name}"] = (build.status_code, build.text)
        cli = world.cli("build", "link", "nginx", url, "--created-by", "nginx", check=False)
        if cli.returncode == 0:  # the old CLI linked: let it build too
            world.cli("build", "trigger", "nginx", check=False)
        _wait_until_no_build_runs(world)

        assert _official_digest(world) == official.digest, answers
        assert all(status in (403, 404) for status, _ in answers.values()), answers
        assert "official image" in answers["link library/nginx"][1], answers
        assert cli.returncode != 0 and "nginx may not link library/nginx" in cli.stderr, (
            cli.stdout + cli.stderr
        )


def test_links_saved_under_a_bare_name_become_official(tmp_path: Path) -> None:
    """Migration 0008: a link saved under a bare name before names were canonical now names
    ``library/...`` (so pushing there needs a site administrator); one whose canonical name is
    linked already is the impostor, and goes with its builds."""
    import sqlalchemy as sa
    from alembic import command

    from dockyard.migrations import alembic_config

    url = f"sqlite:///{tmp_path / 'dockyard.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0004")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for key, name in ((1, "library/nginx"), (2, "nginx"), (3, "busybox"), (4, "alice/app")):
                conn.exec_driver_sql(
                    "INSERT INTO build_links (id, repository, source_url, webhook_secret,"
                    " trigger_token_hash, created_by, created_at)"
                    " VALUES (?, ?, 'git://h/x.git', x'00', 'h', 'nginx', '2026-01-01')",
                    (key, name),
                )
            for build, link, name in ((1, 2, "nginx"), (2, 3, "busybox")):
                conn.exec_driver_sql(
                    "INSERT INTO builds (id, link_id, repository, trigger, source_type, source_ref,"
                    " [commit], commit_message, tags, dockerfile, context, build_cache, state, attempts,"
                    " cancel_requested, queued_at) VALUES (?, ?, ?, 'url', 'branch', 'main', 'c', '',"
                    " '[]', 'Dockerfile', '.', 1, 'success', 1, 0, '2026-01-01')",
                    (build, link, name),
                )
        command.upgrade(config, "head")
        with engine.connect() as conn:
            links = conn.exec_driver_sql("SELECT id, repository FROM build_links ORDER BY id").all()
            builds = conn.exec_driver_sql("SELECT id, repository FROM builds ORDER BY id").all()
        assert [tuple(r) for r in links] == [(1, "library/nginx"), (3, "library/busybox"), (4, "alice/app")]
        assert [tuple(r) for r in builds] == [(2, "library/busybox")]
    finally:
        engine.dispose()
