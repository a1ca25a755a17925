"""Webhooks end to end: a push queues a delivery, the worker POSTs it to a receiver on loopback with
an HMAC-SHA256 signature, failures are retried with back-off, and the history says what happened."""

from __future__ import annotations

import json
from typing import Any

from tests.api.helpers import Hub, Receiver, eventually, signature


def add_webhook(hub: Hub, repository: str, url: str, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "ci", "hook_url": url}
    if secret is not None:
        body["secret"] = secret
    response = hub.api("alice").post(f"/v2/repositories/{repository}/webhooks", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def existing(hub: Hub, repository: str) -> None:
    """Push a first tag and wait until the hub has recorded it: pushes are recorded in batches, and a
    webhook added before its batch is written would be sent that push too."""
    hub.push_image("alice", repository, "v0")
    eventually(
        lambda: (
            hub.api("alice").get(f"/v2/repositories/{repository}/tags/v0").json().get("last_updater_username")
        )
    )


def deliveries(hub: Hub, repository: str, webhook_id: int) -> list[dict[str, Any]]:
    response = hub.api("alice").get(f"/v2/repositories/{repository}/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def test_push_is_delivered_signed_in_docker_hubs_shape(hub: Hub, unique: str) -> None:
    repository = f"alice/hooked-{unique}"
    existing(hub, repository)
    secret = f"s3cret-{unique}"
    with Receiver() as receiver:
        hook = add_webhook(hub, repository, receiver.url, secret)
        assert hook["secret"] == secret and hook["active"] is True
        hub.push_image("alice", repository, "v1")
        received = eventually(receiver.snapshot)
        assert len(received) == 1
        request = received[0]
        assert request.headers["x-dockyard-signature-256"] == signature(secret, request.body)
        assert request.headers["x-dockyard-event"] == "push"
        assert request.headers["content-type"] == "application/json"
        payload = json.loads(request.body)
        assert payload["push_data"]["tag"] == "v1"
        assert payload["push_data"]["pusher"] == "alice"
        assert isinstance(payload["push_data"]["pushed_at"], int)
        assert payload["repository"]["repo_name"] == repository
        assert payload["repository"]["namespace"] == "alice"
        assert payload["repository"]["name"] == f"hooked-{unique}"
        assert isinstance(payload["callback_url"], str)

        history = eventually(lambda: _settled(hub, repository, hook["id"]))
        assert len(history) == 1
        delivery = history[0]
        assert delivery["status"] == "succeeded" and delivery["attempts"] == 1
        assert delivery["last_status_code"] == 200 and delivery["tag"] == "v1"
        assert delivery["id"] == int(request.headers["x-dockyard-delivery"])
        assert delivery["delivered_at"] is not None


def test_a_receiver_failing_twice_gets_one_successful_delivery(hub: Hub, unique: str) -> None:
    repository = f"alice/retried-{unique}"
    existing(hub, repository)
    with Receiver(statuses=[500, 500]) as receiver:
        hook = add_webhook(hub, repository, receiver.url, "retry-secret")
        hub.push_image("alice", repository, "v1")
        received = eventually(lambda: [r for r in receiver.snapshot() if r.status == 200])
        history = eventually(lambda: _settled(hub, repository, hook["id"]))
        attempts = receiver.snapshot()
    assert [r.status for r in attempts] == [500, 500, 200]
    assert len(received) == 1
    assert len({r.body for r in attempts}) == 1  # the same body, signed the same way, each time
    assert all(r.headers["x-dockyard-signature-256"] == signature("retry-secret", r.body) for r in attempts)
    assert len(history) == 1
    assert history[0]["status"] == "succeeded"
    assert history[0]["attempts"] == 3 and history[0]["last_status_code"] == 200
    assert [d for d in history if d["status"] == "succeeded"] == history


def test_an_unreachable_receiver_fails_after_the_last_attempt(hub: Hub, unique: str) -> None:
    repository = f"alice/dead-{unique}"
    existing(hub, repository)
    with Receiver() as receiver:
        dead_url = receiver.url
    hook = add_webhook(hub, repository, dead_url)  # nothing listens there any more
    hub.push_image("alice", repository, "v1")
    history = eventually(lambda: _settled(hub, repository, hook["id"]), timeout=30)
    assert history[0]["status"] == "failed"
    assert history[0]["attempts"] == 5  # DOCKYARD_WEBHOOK_MAX_ATTEMPTS in the suite
    assert history[0]["last_status_code"] is None and history[0]["last_error"]


def test_webhook_management_needs_admin_rights(hub: Hub, unique: str) -> None:
    repository = f"alice/managed-{unique}"
    existing(hub, repository)
    hooks = f"/v2/repositories/{repository}/webhooks"
    hook = add_webhook(hub, repository, "http://127.0.0.1:9/hook")
    assert len(hook["secret"]) >= 32  # generated when none is given
    listed = hub.api("alice").get(hooks).json()
    assert [h["id"] for h in listed["results"]] == [hook["id"]]
    assert listed["results"][0]["secret"] is None  # shown at creation only
    assert hub.api("alice").get(f"{hooks}/{hook['id']}").json()["hook_url"] == "http://127.0.0.1:9/hook"
    for user in ("carol", None):
        assert hub.api(user).get(hooks).status_code in (401, 403)
        assert hub.api(user).post(hooks, json={"name": "x", "hook_url": "http://x"}).status_code in (401, 403)
    bad = hub.api("alice").post(hooks, json={"name": "x", "hook_url": "ftp://example.com"})
    assert bad.status_code == 400
    assert hub.api("alice").delete(f"{hooks}/{hook['id']}").status_code == 204
    assert hub.api("alice").get(f"{hooks}/{hook['id']}").status_code == 404
    assert hub.api("alice").get(f"{hooks}/{hook['id']}/deliveries").status_code == 404


def _settled(hub: Hub, repository: str, webhook_id: int) -> list[dict[str, Any]] | None:
    history = deliveries(hub, repository, webhook_id)
    return history if history and all(d["status"] != "pending" for d in history) else None
