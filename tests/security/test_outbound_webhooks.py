"""Webhook deliveries reach public addresses only, and their history quotes no receiver
(issue 8, item 10, for webhooks).

Real servers with token auth, a pushed image, and webhooks that point at loopback (by address,
by name, over IPv6), at the metadata address and, where private receivers are allowed, at a
service that does not speak HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.access.helpers import threaded_world
from tests.api.helpers import FAST_WEBHOOKS, Hub, eventually
from tests.security._build_sandbox import BANNER, Listener

ONE_TRY = {**FAST_WEBHOOKS, "DOCKYARD_WEBHOOK_MAX_ATTEMPTS": "1"}


def _hub(data: Path, allow_private: bool) -> Iterator[Hub]:
    env = {**ONE_TRY, "DOCKYARD_WEBHOOK_ALLOW_PRIVATE": "true" if allow_private else "false"}
    with threaded_world(data, env=env) as world:
        with world.batch() as batch:
            batch.user("alice")
        hub = Hub(world)
        yield hub
        hub.close()


@pytest.fixture(scope="module")
def public_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    yield from _hub(tmp_path_factory.mktemp("hooks-public") / "data", allow_private=False)


@pytest.fixture(scope="module")
def private_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    yield from _hub(tmp_path_factory.mktemp("hooks-private") / "data", allow_private=True)


@pytest.fixture
def listener() -> Iterator[Listener]:
    found = Listener()
    yield found
    found.close()


def _deliver(hub: Hub, urls: list[str]) -> dict[str, dict[str, Any]]:
    """Add a webhook per URL to a new repository, push a tag; each webhook's settled delivery."""
    repository = f"alice/hooked-{uuid.uuid4().hex[:8]}"
    hub.push_image("alice", repository, "v0")
    api = hub.api("alice")
    eventually(lambda: api.get(f"/v2/repositories/{repository}/tags/v0").json().get("last_updater_username"))
    hooks = {}
    for number, url in enumerate(urls):  # webhook names are unique in a repository
        made = api.post(
            f"/v2/repositories/{repository}/webhooks", json={"name": f"ci{number}", "hook_url": url}
        )
        assert made.status_code == 201, made.text
        hooks[url] = made.json()["id"]
    hub.push_image("alice", repository, "v1")

    def settled(hook: int) -> dict[str, Any] | None:
        path = f"/v2/repositories/{repository}/webhooks/{hook}/deliveries"
        found = [d for d in api.get(path).json()["results"] if d["status"] != "pending"]
        return found[0] if found else None

    return {url: eventually(lambda hook=hook: settled(hook), timeout=30) for url, hook in hooks.items()}


def test_webhooks_to_internal_addresses_are_refused_without_connecting(
    public_hub: Hub, listener: Listener
) -> None:
    """Loopback by address, by name and over IPv6, and the metadata address: every delivery fails
    with the reason, and nothing reaches the listener."""
    port = listener.port
    urls = {
        f"http://127.0.0.1:{port}/hook": "not a public address",
        f"http://localhost:{port}/hook": "not a public address",
        f"http://[::ffff:127.0.0.1]:{port}/hook": "not a public address",
        "http://169.254.169.254/latest/meta-data/": "cloud metadata address",
    }
    delivered = _deliver(public_hub, list(urls))
    assert listener.received == [], "a webhook delivery connected to a loopback port"
    for url, reason in urls.items():
        delivery = delivered[url]
        assert delivery["status"] == "failed" and reason in str(delivery["last_error"]), delivery


def test_a_receiver_that_is_no_web_server_is_not_quoted(private_hub: Hub, listener: Listener) -> None:
    """Where private receivers are allowed, a delivery to a service that answers in another
    protocol fails without a byte of that answer in the history (no port scanner)."""
    url = f"http://127.0.0.1:{listener.port}/hook"
    delivery = _deliver(private_hub, [url])[url]
    assert listener.received, "the delivery should have been attempted"
    assert delivery["status"] == "failed" and delivery["last_error"], delivery
    assert BANNER[:4] not in str(delivery["last_error"]) and "banner" not in str(delivery["last_error"])
