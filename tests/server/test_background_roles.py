"""Background roles across processes: a web server that runs none (DOCKYARD_BACKGROUND=none) leaves
its push events in the outbox; a `dockyard worker --role events` beside it turns them into queued
webhook deliveries, and a `dockyard worker --role webhooks` delivers them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.access.helpers import running_world
from tests.api.helpers import FAST_WEBHOOKS, Hub, Receiver, eventually

REPOSITORY = "alice/hooked"
QUIET_SECONDS = 2.0  # twenty webhook polls at FAST_WEBHOOKS' 0.1 s


@contextmanager
def worker(data_dir: Path, env: dict[str, str], log: Path, roles: str) -> Iterator[subprocess.Popen[bytes]]:
    """`dockyard worker --role ROLES` on the server's data folder, with the server's settings."""
    command = [str(Path(sys.executable).parent / "dockyard"), "worker", "--role", roles]
    command += ["--data-dir", str(data_dir)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env}, process_group=0
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def deliveries(hub: Hub, webhook_id: int) -> list[dict[str, Any]]:
    response = hub.api("alice").get(f"/v2/repositories/{REPOSITORY}/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def test_a_webhooks_worker_delivers_what_a_server_without_background_work_queued(tmp_path: Path) -> None:
    env = {**FAST_WEBHOOKS, "DOCKYARD_BACKGROUND": "none"}
    with running_world(tmp_path / "data", env=env) as world, Receiver() as receiver:
        with world.batch() as batch:
            batch.user("alice")
        hub = Hub(world)
        hub.push_image("alice", REPOSITORY, "v0")  # the repository exists before its webhook
        created = hub.api("alice").post(
            f"/v2/repositories/{REPOSITORY}/webhooks", json={"name": "ci", "hook_url": receiver.url}
        )
        assert created.status_code == 201, created.text
        hook = created.json()["id"]
        hub.push_image("alice", REPOSITORY, "v1")

        time.sleep(QUIET_SECONDS)
        assert deliveries(hub, hook) == []  # the push waits in the outbox: nobody runs `events`
        events_log = tmp_path / "events-worker.log"
        with worker(world.data_dir, world.server.env, events_log, "events") as dispatcher:
            queued = eventually(lambda: deliveries(hub, hook), timeout=60)  # the events worker
            assert [(d["tag"], d["status"], d["attempts"]) for d in queued] == [("v1", "pending", 0)]
            time.sleep(QUIET_SECONDS)
            assert receiver.snapshot() == [] and deliveries(hub, hook)[0]["status"] == "pending"
            dispatcher.send_signal(signal.SIGTERM)
            assert dispatcher.wait(timeout=30) == 0, events_log.read_text()

        log = tmp_path / "worker.log"
        with worker(world.data_dir, world.server.env, log, "webhooks") as process:
            [request] = eventually(receiver.snapshot, timeout=60)  # the worker starts, then delivers
            assert request.headers["x-dockyard-event"] == "push"
            assert eventually(lambda: deliveries(hub, hook)[0]["status"] == "succeeded" or None)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, log.read_text()
        hub.close()
    text = log.read_text()
    assert "Worker started: webhooks" in text and "Worker stopped." in text, text


def test_an_unknown_role_is_refused_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dockyard"), "worker", "--role", "webhooks,cooking"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: unknown role cooking: use all, none or some of events, builds, webhooks, janitor"
    )
