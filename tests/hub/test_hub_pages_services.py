"""What the issue 14 pages ask of the hub, through the real services on a real SQLite database:
image details, the default pull tag, bulk tag deletion, starred lists, deleting one's account,
unique webhook names, delivery attempts, test pings and redeliveries, site administration and
the sign-up switch that overrides DOCKYARD_SIGNUP."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import anyio
import pytest

from dockyard.accounts.errors import AlreadyExists, Conflict, InvalidInput
from dockyard.accounts.records import Principal
from dockyard.accounts.service import AccountService
from dockyard.db.engine import Database
from dockyard.hub.admin import AuditFilter
from dockyard.hub.delivery import DeliveryQueue, Outcome, RetryPolicy
from dockyard.hub.errors import NotFound, PermissionDenied
from dockyard.hub.service import HubService
from dockyard.hub.site import SiteSettings
from dockyard.registry.manifests import OCI_MANIFEST
from dockyard.registry.service import Registry
from dockyard.secretbox import SecretBox
from tests.hub.conftest import OCI_CONFIG, Hub

pytestmark = pytest.mark.anyio


async def test_image_detail_reads_layers_config_and_referrers(hub: HubService, world: Hub) -> None:
    alice = await world.user("alice")
    await hub.create_repository(alice, "alice", "app")
    config = {
        "os": "linux",
        "architecture": "amd64",
        "config": {"Env": ["A=1"], "Cmd": ["run"], "ExposedPorts": {"80/tcp": {}}, "Labels": {"k": "v"}},
        "history": [
            {"created_by": "/bin/sh -c #(nop) ADD file:x in /"},
            {"created_by": "/bin/sh -c #(nop)  ENV A=1", "empty_layer": True},
        ],
    }
    config_digest, config_size = await world.blob("alice/app", json.dumps(config).encode())
    layer_digest, layer_size = await world.blob("alice/app", b"layer" * 100)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": layer_size,
            }
        ],
    }
    content = json.dumps(manifest).encode()
    image = await world.registry.put_manifest("alice/app", "v1", content, OCI_MANIFEST, [], "alice")
    empty, _ = await world.blob("alice/app", b"{}")
    sig_layer, sig_size = await world.blob("alice/app", b"signature")
    artifact = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/spdx+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/spdx+json", "digest": sig_layer, "size": sig_size}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": image.digest, "size": len(content)},
    }
    sbom = await world.registry.put_manifest(
        "alice/app", "sbom", json.dumps(artifact).encode(), OCI_MANIFEST, [], "alice"
    )

    detail = await hub.image(None, "alice/app", image.digest)
    assert (detail.platform, detail.size, detail.tags) == ("linux/amd64", config_size + layer_size, ("v1",))
    assert [(layer.instruction, layer.size) for layer in detail.layers] == [
        ("ADD file:x in /", layer_size),
        ("ENV A=1", None),
    ]
    assert detail.config is not None and detail.config.exposed_ports == ("80/tcp",)
    assert [(r.digest, r.kind) for r in detail.referrers] == [(sbom.digest, "SBOM (SPDX)")]
    shown = await hub.image(None, "alice/app", sbom.digest)
    assert shown.artifact_type == "application/spdx+json" and shown.config is None

    index, images = await world.index("alice/app", "multi", [("linux", "arm64", "v8")], attestation=True)
    detail = await hub.image(None, "alice/app", index)
    assert [(p.platform, p.size, p.here) for p in detail.platforms] == [
        ("linux/arm64/v8", images[0].size, True)
    ]
    assert (await hub.image(None, "alice/app", images[0].digest)).indexes == (index,)

    for missing in (f"sha256:{'0' * 64}", "sha256:short", "nonsense"):
        with pytest.raises(NotFound):
            await hub.image(None, "alice/app", missing)


async def test_private_images_are_hidden_like_the_repository(hub: HubService, world: Hub) -> None:
    alice, bob = await world.user("alice"), await world.user("bobby")
    await hub.create_repository(alice, "alice", "secret", private=True)
    image = await world.image("alice/secret", "v1")
    assert (await hub.image(alice, "alice/secret", image.digest)).digest == image.digest
    for viewer in (None, bob):
        with pytest.raises(NotFound):
            await hub.image(viewer, "alice/secret", image.digest)


async def test_default_tag_is_latest_else_the_newest(hub: HubService, world: Hub) -> None:
    alice = await world.user("alice")
    await hub.create_repository(alice, "alice", "app")
    assert await hub.default_tag(alice, "alice/app") is None
    await world.image("alice/app", "v1", layers=[b"one"])
    await world.image("alice/app", "v2", layers=[b"two"])
    assert await hub.default_tag(alice, "alice/app") == "v2"
    await world.image("alice/app", "latest", layers=[b"three"])
    await world.image("alice/app", "v3", layers=[b"four"])
    assert await hub.default_tag(alice, "alice/app") == "latest"


async def test_bulk_tag_deletion_needs_admin_and_skips_missing_tags(hub: HubService, world: Hub) -> None:
    alice, bob = await world.user("alice"), await world.user("bobby")
    await hub.create_repository(alice, "alice", "app")
    for tag in ("a", "b", "c"):
        await world.image("alice/app", tag, layers=[tag.encode()])
    with pytest.raises(PermissionDenied):
        await hub.delete_tags(bob, "alice/app", ["a"])
    assert await hub.delete_tags(alice, "alice/app", ["a", "c", "nope", "a"]) == ["a", "c"]
    assert [t.name for t in (await hub.tags(alice, "alice/app")).items] == ["b"]


async def test_starred_lists_show_only_what_the_viewer_may_see(hub: HubService, world: Hub) -> None:
    alice, bob = await world.user("alice"), await world.user("bobby")
    await hub.create_repository(alice, "alice", "public")
    await hub.create_repository(alice, "alice", "private", private=True)
    for name in ("alice/public", "alice/private"):
        await hub.star(alice, name)
    assert [r.name for r in (await hub.starred(alice, "alice")).items] == ["alice/private", "alice/public"]
    for viewer in (bob, None):
        assert [r.name for r in (await hub.starred(viewer, "alice")).items] == ["alice/public"]
    with pytest.raises(NotFound):
        await hub.starred(None, "nobody")


async def test_deleting_ones_account_takes_its_repositories(
    hub: HubService, world: Hub, accounts: AccountService
) -> None:
    alice, bob = await world.user("alice"), await world.user("bobby")
    await hub.create_repository(alice, "alice", "app")
    await hub.star(bob, "alice/app")
    with pytest.raises(InvalidInput):
        await hub.delete_account(alice, "alic")
    await accounts.create_org("acme", alice.username)
    with pytest.raises(Conflict):
        await hub.delete_account(alice, "alice")
    assert await accounts.get_user("alice") is not None
    assert (await hub.repository(alice, "alice/app")).name == "alice/app"  # nothing was deleted

    assert await hub.delete_account(bob, "bobby") == 0
    assert await accounts.get_user("bobby") is None
    assert (await hub.repository(None, "alice/app")).summary.star_count == 0
    with pytest.raises(AlreadyExists):
        await accounts.create_user("bobby", "", "another password")


async def test_webhook_names_are_unique_per_repository(hub: HubService, world: Hub) -> None:
    alice = await world.user("alice")
    for name in ("alice/app", "alice/other"):
        await hub.create_repository(alice, "alice", name.split("/")[1])
        await hub.add_webhook(alice, name, "Deploy", "https://example.com/hook")
    with pytest.raises(AlreadyExists):
        await hub.add_webhook(alice, "alice/app", "deploy", "https://example.com/other")
    assert [h.name for h in await hub.webhooks(alice, "alice/app")] == ["Deploy"]


async def test_attempts_pings_and_redeliveries(
    hub: HubService, world: Hub, database: Database, tmp_path: Path
) -> None:
    alice, bob = await world.user("alice"), await world.user("bobby")
    await hub.create_repository(alice, "alice", "app")
    hook = await hub.add_webhook(alice, "alice/app", "ci", "https://example.com/hook", "s3cret")
    with pytest.raises(PermissionDenied):
        await hub.test_webhook(bob, "alice/app", hook.id)
    ping = await hub.test_webhook(alice, "alice/app", hook.id)

    queue = DeliveryQueue(database, SecretBox.from_data_dir(tmp_path))
    policy = RetryPolicy(retry_base=0.001, max_attempts=3)
    for outcome in (Outcome(None, "ConnectError: refused"), Outcome(500, "HTTP 500")):
        (claimed,) = await queue.claim(5, lease=0.0)
        await queue.record(claimed, outcome, policy, duration_ms=42)
        await anyio.sleep(0.01)  # the retry waits retry_base seconds
    (claimed,) = await queue.claim(5, lease=0.0)
    assert claimed.event == "ping" and claimed.payload["ping"]["webhook"] == "ci"
    await queue.record(claimed, Outcome(204, None), policy, duration_ms=7)

    detail = await hub.delivery(alice, "alice/app", ping)
    assert detail.delivery.status == "succeeded"
    assert [(a.number, a.status_code, a.duration_ms) for a in detail.attempts] == [
        (1, None, 42),
        (2, 500, 42),
        (3, 204, 7),
    ]
    again = await hub.redeliver(alice, "alice/app", ping)
    redone = await hub.delivery(alice, "alice/app", again)
    assert again != ping and redone.attempts == () and redone.delivery.payload == detail.delivery.payload
    with pytest.raises(NotFound):
        await hub.delivery(alice, "alice/app", 10_000)
    await hub.remove_webhook(alice, "alice/app", hook.id)  # its deliveries and attempts go with it
    with pytest.raises(NotFound):
        await hub.delivery(alice, "alice/app", ping)


async def test_site_administration_is_for_administrators(hub: HubService, world: Hub) -> None:
    root, alice = await world.user("rootadm", admin=True), await world.user("alice")
    for viewer, error in ((None, PermissionDenied), (alice, NotFound)):
        with pytest.raises(error):
            await hub.admin.users(viewer, "", 1, 10)
        with pytest.raises(error):
            await hub.admin.set_disabled(viewer, "alice", True)
        with pytest.raises(error):
            await hub.site.set_signup(viewer, "closed")
    token_admin = Principal(
        root.username, root.user_id, True, token_id=1, token_scopes=frozenset({"repo:admin"})
    )
    with pytest.raises(NotFound):
        await hub.admin.users(token_admin, "", 1, 10)
    with pytest.raises(InvalidInput):
        await hub.admin.set_disabled(root, root.username, True)
    with pytest.raises(InvalidInput):
        await hub.admin.set_admin(root, root.username, False)


async def test_users_search_and_actions(hub: HubService, world: Hub, accounts: AccountService) -> None:
    root = await world.user("rootadm", admin=True)
    alice = await world.user("alice")
    for name in ("albert", "carol"):
        await world.user(name)
    await hub.create_repository(alice, "alice", "app")
    found = await hub.admin.users(root, "AL", 1, 10)
    assert [(u.username, u.repositories) for u in found.items] == [("albert", 0), ("alice", 1)]
    assert (await hub.admin.users(root, "carol@example", 1, 10)).count == 1
    assert (await hub.admin.users(root, "", 2, 2)).items[0].username == "carol"
    assert (await hub.admin.set_disabled(root, "carol", True)).disabled
    assert (await hub.admin.set_admin(root, "carol", True)).is_admin


async def test_audit_filters_and_pages(hub: HubService, world: Hub, accounts: AccountService) -> None:
    root = await world.user("rootadm", admin=True)
    for n in range(5):
        await accounts.record_event("push", actor="alice", target=f"alice/app{n}")
    await accounts.record_event("delete", actor="bob", target="bob/x")
    first = await hub.admin.audit(root, AuditFilter(kind="push"), None, 2)
    assert [e.target for e in first.events] == ["alice/app4", "alice/app3"] and first.next_before
    rest = await hub.admin.audit(root, AuditFilter(kind="push"), first.next_before, 10)
    assert [e.target for e in rest.events] == [
        "alice/app2",
        "alice/app1",
        "alice/app0",
    ] and rest.next_before is None
    assert [e.kind for e in (await hub.admin.audit(root, AuditFilter(actor="bob"), None, 10)).events] == [
        "delete"
    ]
    assert len((await hub.admin.audit(root, AuditFilter(target="app3"), None, 10)).events) == 1
    tomorrow = date.today() + timedelta(days=1)
    assert (await hub.admin.audit(root, AuditFilter(since=tomorrow), None, 10)).events == []
    assert (
        len((await hub.admin.audit(root, AuditFilter(until=tomorrow, kind="delete"), None, 10)).events) == 1
    )
    assert "push" in await hub.admin.event_kinds(root)


async def test_storage_counts_each_blob_once_per_namespace(hub: HubService, world: Hub) -> None:
    root, alice = await world.user("rootadm", admin=True), await world.user("alice")
    for name in ("one", "two"):
        await hub.create_repository(alice, "alice", name)
    shared = await world.image("alice/one", "v1", layers=[b"x" * 1000])
    await world.image("alice/two", "v1", layers=[b"x" * 1000])  # the same blobs
    await world.image("alice/two", "v2", layers=[b"y" * 500])
    usage = await hub.admin.storage(root, 1, 10)
    (row,) = usage.namespaces.items
    assert (row.namespace, row.repositories, row.blobs) == ("alice", 2, 3)  # one config for all
    assert row.size == shared.size + 500
    assert (usage.total_blobs, usage.total_size) == (3, row.size)


async def test_signup_choice_is_kept_and_beats_the_default(
    database: Database, accounts: AccountService, registry: Registry, world: Hub
) -> None:
    root = await world.user("rootadm", admin=True)
    site = SiteSettings(database, "closed", ttl=60)
    assert await site.signup_state() == ("closed", False)
    await site.set_signup(root, "open")
    assert await site.signup() == "open"  # this process: at once, whatever the cache held
    other_worker = SiteSettings(database, "closed")
    assert await other_worker.signup_state() == ("open", True)
    with pytest.raises(InvalidInput):
        await site.set_signup(root, "maybe")
    events = await accounts.list_events(kind="site.setting_changed")
    assert events[0].detail == {"setting": "signup", "from": None, "to": "open"}
