"""HubService against real accounts and registry services on SQLite and a temp folder."""

from __future__ import annotations

import pytest

from dockyard.accounts.service import AccountService
from dockyard.events import Dispatcher
from dockyard.hub.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from dockyard.hub.service import HubService
from dockyard.hub.stats import ActivityRecorder
from dockyard.registry.errors import RegistryError
from dockyard.registry.events import TAG_DELETED, ManifestDeleted
from dockyard.registry.service import Registry
from tests.hub.conftest import Hub

pytestmark = pytest.mark.anyio


async def test_private_repositories_look_missing_to_others(hub: HubService, world: Hub) -> None:
    alice, bobby = await world.user("alice"), await world.user("bobby")
    await hub.create_repository(alice, "alice", "secret", private=True, description="hidden stuff")
    await hub.create_repository(alice, "alice", "open", description="visible stuff")

    assert (await hub.repository(alice, "alice/secret")).summary.is_private
    for viewer in (bobby, None):
        with pytest.raises(NotFound) as hidden:
            await hub.repository(viewer, "alice/secret")
        with pytest.raises(NotFound) as missing:
            await hub.repository(viewer, "alice/nothing")
        assert str(hidden.value).replace("secret", "X") == str(missing.value).replace("nothing", "X")
        listed = await hub.namespace_repositories(viewer, "alice")
        assert [r.name for r in listed.items] == ["alice/open"] and listed.count == 1
        found = await hub.search(viewer, "stuff")
        assert [r.name for r in found.items] == ["alice/open"]
        with pytest.raises(NotFound):
            await hub.tags(viewer, "alice/secret")
    assert {r.name for r in (await hub.search(alice, "STUFF")).items} == {"alice/open", "alice/secret"}


async def test_create_repository_rules(hub: HubService, world: Hub, accounts: AccountService) -> None:
    alice, bobby = await world.user("alice"), await world.user("bobby")
    await accounts.create_org("acme", "alice")
    assert await hub.writable_namespaces(alice) == ["alice", "acme"]
    assert await hub.writable_namespaces(bobby) == ["bobby"]
    assert await hub.writable_namespaces(None) == []

    made = await hub.create_repository(alice, "acme", "tool", description="d" * 100)
    assert made.name == "acme/tool" and made.can_admin and not made.summary.is_private
    with pytest.raises(PermissionDenied):
        await hub.create_repository(bobby, "acme", "other")
    with pytest.raises(PermissionDenied):
        await hub.create_repository(None, "alice", "other")
    with pytest.raises(AlreadyExists):
        await hub.create_repository(alice, "acme", "tool")
    with pytest.raises(InvalidInput):
        await hub.create_repository(alice, "alice", "a/b")
    with pytest.raises(InvalidInput):
        await hub.create_repository(alice, "alice", "UPPER")
    with pytest.raises(InvalidInput):
        await hub.create_repository(alice, "alice", "long", description="d" * 101)


async def test_search_orders_exact_name_first_then_popularity(hub: HubService, world: Hub) -> None:
    alice, bobby = await world.user("alice"), await world.user("bobby")
    for name in ("redis-tools", "redis", "myredis"):
        await hub.create_repository(alice, "alice", name)
    await hub.create_repository(bobby, "bobby", "cache", description="a Redis cache")
    await hub.star(bobby, "alice/myredis")
    found = await hub.search(None, "redis")
    assert [r.name for r in found.items] == [
        "alice/redis",
        "alice/redis-tools",
        "alice/myredis",
        "bobby/cache",
    ]
    assert found.items[2].star_count == 1
    paged = await hub.search(None, "redis", page=2, page_size=3)
    assert [r.name for r in paged.items] == ["bobby/cache"] and paged.count == 4 and paged.pages == 2
    assert (await hub.search(None, "100%_")).count == 0  # LIKE wildcards are literal


async def test_tags_of_a_single_image(hub: HubService, world: Hub, recorder: ActivityRecorder) -> None:
    alice = await world.user("alice")
    await hub.create_repository(alice, "alice", "app")
    image = await world.image("alice/app", "v1", layers=[b"a" * 1000, b"b" * 500], actor="alice")
    await recorder.flush()

    page = await hub.tags(None, "alice/app")
    assert page.count == 1
    tag = page.items[0]
    assert (tag.name, tag.digest, tag.is_index, tag.pusher) == ("v1", image.digest, False, "alice")
    assert tag.size == image.size and tag.size > 1500
    [only] = tag.images
    assert (only.platform, only.digest, only.size) == ("linux/amd64", image.digest, image.size)
    assert tag.last_pulled_at is None
    assert await hub.tag(None, "alice/app", "v1") == tag
    with pytest.raises(NotFound):
        await hub.tag(None, "alice/app", "v2")


async def test_tags_of_a_multi_platform_index(
    hub: HubService, world: Hub, recorder: ActivityRecorder
) -> None:
    alice = await world.user("alice")
    await hub.create_repository(alice, "alice", "multi")
    digest, images = await world.index(
        "alice/multi", "latest", [("linux", "amd64", None), ("linux", "arm64", "v8")], attestation=True
    )
    await recorder.flush()
    tag = await hub.tag(alice, "alice/multi", "latest")
    assert tag.is_index and tag.digest == digest
    assert [(i.platform, i.digest, i.size) for i in tag.images] == [
        ("linux/amd64", images[0].digest, images[0].size),
        ("linux/arm64/v8", images[1].digest, images[1].size),
    ]  # the unknown/unknown attestation is not a platform
    assert tag.size == images[0].size + images[1].size
    assert all(i.last_pushed_at is not None for i in tag.images)


async def test_tag_sorting_filtering_and_paging(hub: HubService, world: Hub) -> None:
    alice = await world.user("alice")
    await hub.create_repository(alice, "alice", "app")
    for name in ("b-old", "a-mid", "c-new"):
        await world.image("alice/app", name, layers=[name.encode()])
    names = lambda page: [t.name for t in page.items]  # noqa: E731
    assert names(await hub.tags(None, "alice/app")) == ["c-new", "a-mid", "b-old"]  # newest first
    assert names(await hub.tags(None, "alice/app", ordering="last_pushed")) == ["b-old", "a-mid", "c-new"]
    assert names(await hub.tags(None, "alice/app", ordering="name")) == ["a-mid", "b-old", "c-new"]
    assert names(await hub.tags(None, "alice/app", ordering="-name")) == ["c-new", "b-old", "a-mid"]
    assert names(await hub.tags(None, "alice/app", contains="-n")) == ["c-new"]
    assert names(await hub.tags(None, "alice/app", contains="%")) == []
    second = await hub.tags(None, "alice/app", ordering="name", page=2, page_size=2)
    assert names(second) == ["c-new"] and second.count == 3 and second.has_previous and not second.has_next


async def test_pulls_are_counted_once_per_pull(
    hub: HubService, world: Hub, registry: Registry, recorder: ActivityRecorder
) -> None:
    alice = await world.user("alice")
    await hub.create_repository(alice, "alice", "app")
    single = await world.image("alice/app", "one")
    _, images = await world.index("alice/app", "multi", [("linux", "amd64", None), ("linux", "arm64", None)])
    # classic docker: GET by tag (the index), then GET the platform image by digest
    await registry.pull_manifest("alice/app", "multi", None, None)
    await registry.pull_manifest("alice/app", images[0].digest, None, None)
    # containerd: HEAD (no event), then GET by digest
    await registry.pull_manifest("alice/app", single.digest, None, "bobby")
    await registry.pull_manifest("alice/app", "one", None, None)
    await registry.manifest("alice/app", "one", None)  # a HEAD is not a pull
    await recorder.flush()

    detail = await hub.repository(None, "alice/app")
    assert detail.summary.pull_count == 3 and detail.last_pulled_at is not None
    tags = {t.name: t for t in (await hub.tags(None, "alice/app")).items}
    assert tags["one"].last_pulled_at is not None and tags["multi"].last_pulled_at is not None
    amd64, arm64 = tags["multi"].images
    assert amd64.last_pulled_at is not None and arm64.last_pulled_at is None
    assert (await hub.namespace_repositories(None, "alice")).items[0].pull_count == 3


async def test_push_queues_docker_hub_webhook_payloads(
    hub: HubService, world: Hub, recorder: ActivityRecorder
) -> None:
    alice = await world.user("alice")
    await hub.create_repository(alice, "alice", "app", description="short", full_description="# long")
    await hub.star(alice, "alice/app")
    hook = await hub.add_webhook(alice, "alice/app", "ci", "https://ci.example.com/hook")
    assert hook.active and len(hook.secret) >= 32 and hook.secret not in repr(hook)
    await world.image("alice/app", "v1", actor="alice")
    await world.image("alice/app", None, actor="alice")  # by digest: no tag, no webhook
    await recorder.flush()

    [delivery] = await hub.deliveries(alice, "alice/app")
    assert (delivery.webhook_name, delivery.status, delivery.attempts, delivery.tag) == (
        "ci",
        "pending",
        0,
        "v1",
    )
    payload = delivery.payload
    assert payload["callback_url"].startswith("https://hub.example.com/r/alice/app/hook/")
    push = payload["push_data"]
    assert push["pusher"] == "alice" and push["tag"] == "v1" and isinstance(push["pushed_at"], int)
    assert payload["repository"] == {
        "comment_count": 0,
        "date_created": payload["repository"]["date_created"],
        "description": "short",
        "full_description": "# long",
        "is_official": False,
        "is_private": False,
        "is_trusted": False,
        "name": "app",
        "namespace": "alice",
        "owner": "alice",
        "repo_name": "alice/app",
        "repo_url": "https://hub.example.com/r/alice/app",
        "star_count": 1,
        "status": "Active",
    }
    await hub.remove_webhook(alice, "alice/app", hook.id)
    assert await hub.webhooks(alice, "alice/app") == [] and await hub.deliveries(alice, "alice/app") == []
    with pytest.raises(InvalidInput):
        await hub.add_webhook(alice, "alice/app", "bad", "javascript:alert(1)")
    with pytest.raises(InvalidInput):
        await hub.add_webhook(alice, "alice/app", "creds", "https://user:pw@example.com/")


async def test_delete_tag_goes_through_the_registry(
    hub: HubService, world: Hub, registry: Registry, dispatcher: Dispatcher
) -> None:
    alice, bobby = await world.user("alice"), await world.user("bobby")
    await hub.create_repository(alice, "alice", "app")
    await world.image("alice/app", "v1")
    await dispatcher.drain()
    events: list[ManifestDeleted] = []
    dispatcher.on(TAG_DELETED, lambda conn, event: events.append(ManifestDeleted.of(event)))
    with pytest.raises(PermissionDenied):
        await hub.delete_tag(bobby, "alice/app", "v1")
    await hub.delete_tag(alice, "alice/app", "v1")  # handled before it returns
    assert [(e.repository, e.reference, e.actor) for e in events] == [("alice/app", "v1", "alice")]
    assert (await hub.tags(alice, "alice/app")).count == 0
    with pytest.raises(RegistryError):
        await registry.manifest("alice/app", "v1", None)
    with pytest.raises(NotFound):
        await hub.delete_tag(alice, "alice/app", "v1")


async def test_stars(hub: HubService, world: Hub) -> None:
    alice, bobby = await world.user("alice"), await world.user("bobby")
    await hub.create_repository(alice, "alice", "app")
    assert await hub.star(bobby, "alice/app") == 1
    assert await hub.star(bobby, "alice/app") == 1  # idempotent
    assert await hub.star(alice, "alice/app") == 2
    assert (await hub.repository(bobby, "alice/app")).starred
    assert await hub.star(bobby, "alice/app", starred=False) == 1
    assert not (await hub.repository(bobby, "alice/app")).starred
    with pytest.raises(PermissionDenied):
        await hub.star(None, "alice/app")


async def test_settings_need_admin_rights(hub: HubService, world: Hub, accounts: AccountService) -> None:
    alice, carol = await world.user("alice"), await world.user("carol")
    await accounts.create_org("acme", "alice")
    await accounts.create_team("acme", "writers")
    await accounts.add_team_member("acme", "writers", "carol")
    await hub.create_repository(alice, "acme", "tool", private=True)
    await hub.set_team_access(alice, "acme/tool", "writers", "write")
    access = await hub.team_access(alice, "acme/tool")
    assert [(a.team, a.permission) for a in access] == [("writers", "write")]

    detail = await hub.repository(carol, "acme/tool")
    assert detail.can_push and not detail.can_admin
    for attempt in (
        hub.update_repository(carol, "acme/tool", private=False),
        hub.webhooks(carol, "acme/tool"),
        hub.delete_repository(carol, "acme/tool"),
        hub.team_access(carol, "acme/tool"),
    ):
        with pytest.raises(PermissionDenied):
            await attempt

    updated = await hub.update_repository(alice, "acme/tool", full_description="## Usage", private=False)
    assert updated.full_description == "## Usage" and not updated.summary.is_private
    await hub.set_team_access(alice, "acme/tool", "writers", None)
    await hub.set_team_access(alice, "acme/tool", "writers", None)  # already none: fine
    assert [(a.team, a.permission) for a in await hub.team_access(alice, "acme/tool")] == [("writers", None)]
    with pytest.raises(InvalidInput):
        await hub.set_team_access(alice, "acme/tool", "writers", "owner")


async def test_delete_repository_removes_everything(
    hub: HubService, world: Hub, registry: Registry, recorder: ActivityRecorder
) -> None:
    alice = await world.user("alice")
    await hub.create_repository(alice, "alice", "app", private=True)
    await world.index("alice/app", "multi", [("linux", "amd64", None)])
    await hub.star(alice, "alice/app")
    await hub.add_webhook(alice, "alice/app", "ci", "https://ci.example.com/")
    await world.image("alice/app", "v1")
    await registry.pull_manifest("alice/app", "v1", None, None)
    await recorder.flush()

    await hub.delete_repository(alice, "alice/app")
    with pytest.raises(NotFound):
        await hub.repository(alice, "alice/app")
    with pytest.raises(RegistryError):
        await registry.manifest("alice/app", "v1", None)
    assert (await hub.namespace_repositories(alice, "alice")).count == 0
    # The name is free again, fresh.
    again = await hub.create_repository(alice, "alice", "app")
    assert (again.summary.star_count, again.summary.pull_count) == (0, 0)
    assert await hub.webhooks(alice, "alice/app") == []
    [event] = await hub.accounts.list_events(kind="repository.deleted")
    assert (event.actor, event.target) == ("alice", "alice/app")


async def test_namespaces(hub: HubService, world: Hub, accounts: AccountService) -> None:
    await world.user("alice")
    await accounts.create_org("acme", "alice")
    assert (await hub.namespace("alice")).kind == "user"
    assert (await hub.namespace("acme")).kind == "org"
    assert (await hub.namespace("library")).kind == "library"
    with pytest.raises(NotFound):
        await hub.namespace("nobody")


async def test_official_images_are_created_by_administrators(hub: HubService, world: Hub) -> None:
    admin, alice = await world.user("admin1", admin=True), await world.user("alice")
    assert "library" in await hub.writable_namespaces(admin)
    assert "library" not in await hub.writable_namespaces(alice)
    with pytest.raises(PermissionDenied):
        await hub.create_repository(alice, "library", "busybox")
    made = await hub.create_repository(admin, "library", "busybox", description="The official one")
    assert made.summary.is_official and made.summary.short_name == "busybox"
    seen = await hub.repository(None, "busybox")  # a single component is an official image
    assert seen.name == "library/busybox" and not seen.can_push
    assert [r.name for r in (await hub.search(None, "busybox")).items] == ["library/busybox"]


async def test_a_webhook_added_after_a_push_does_not_receive_it(
    hub: HubService, world: Hub, recorder: ActivityRecorder
) -> None:
    alice = await world.user("alice")
    await hub.create_repository(alice, "alice", "app")
    await world.image("alice/app", "v1", actor="alice")
    # Pushes are flushed in batches; the webhook appears between the push and the flush.
    await hub.add_webhook(alice, "alice/app", "late", "https://ci.example.com/hook")
    await recorder.flush()

    assert await hub.deliveries(alice, "alice/app") == []
