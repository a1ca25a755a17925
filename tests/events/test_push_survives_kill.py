"""A push that ``docker push`` saw succeed always produces its webhook, even when the server is
killed (SIGKILL) the moment the push returns: the push and its ``manifest.pushed`` event commit in
one transaction, and the restarted server's ``events`` worker queues the delivery (issue 10; before
the outbox, pushes waited up to a second in a memory buffer and 3 of 3 webhooks were lost).

Real ``dockyard serve``, real docker, a webhook receiver on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.access.helpers import running_world
from tests.api.helpers import FAST_WEBHOOKS, Receiver, eventually
from tests.conftest import Cli

pytestmark = pytest.mark.docker

REPOSITORY = "alice/found-outbox-kill"
ROUNDS = 3


def test_push_webhooks_arrive_after_kill_9_right_after_each_push(
    tmp_path: Path, docker_cli: Cli, base_image: str
) -> None:
    docker = Cli(docker_cli.path, env={**docker_cli.env, "DOCKER_CONFIG": str(tmp_path / "docker")})
    with running_world(tmp_path / "data", env=FAST_WEBHOOKS) as world, Receiver() as receiver:
        server = world.server
        password = world.create_user("alice")
        world.cli("repo", "create", REPOSITORY)
        login = httpx.post(f"{server.url}/v2/users/login", json={"username": "alice", "password": password})
        assert login.status_code == 200, login.text
        hook = httpx.post(
            f"{server.url}/v2/repositories/{REPOSITORY}/webhooks",
            json={"name": "ci", "hook_url": receiver.url},
            headers={"Authorization": f"Bearer {login.json()['token']}"},
        )
        assert hook.status_code == 201, hook.text
        docker("login", server.host, "-u", "alice", "--password-stdin", input=password)
        references = [f"{server.host}/{REPOSITORY}:v{round}" for round in range(ROUNDS)]
        try:
            for reference in references:
                docker("tag", base_image, reference)
                docker("push", reference)
                server.kill()  # as a crash would, at once
                server.start()

            def tags() -> list[str] | None:
                found = sorted(json.loads(r.body)["push_data"]["tag"] for r in receiver.snapshot())
                return found if len(found) >= ROUNDS else None

            assert eventually(tags, timeout=30) == [f"v{round}" for round in range(ROUNDS)]
        finally:
            docker("rmi", *references, check=False)
