"""Retention policies: the preview lists exactly what apply deletes; keep-last, keep-days, patterns,
a repository's policy over its namespace's; a tag pushed again after planning stays; audited."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from argon2 import PasswordHasher
from sqlalchemy import update

from dockyard.accounts.credentials import Passwords
from dockyard.accounts.service import AccountService
from dockyard.config import Settings
from dockyard.hub.errors import InvalidInput
from dockyard.hub.retention import Policy, Retention
from dockyard.hub.tables import tag_activity
from dockyard.registry.gc import Collector
from dockyard.registry.service import Registry
from dockyard.registry.store import manifests, tags
from dockyard.services import Services, build_services
from tests.clock import FakeClock
from tests.ops.conftest import Pusher
from tests.ops.test_cli import Cli, cli, push  # noqa: F401  (cli: a fixture)

NOW = datetime.now(UTC)


@pytest.fixture
def retention(registry: Registry) -> Retention:
    accounts = AccountService(
        registry.store.db, Passwords(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    )
    return Retention(registry.store.db, registry, accounts)


async def pushed(pusher: Pusher, repository: str, tag: str, days_ago: float) -> None:
    await pusher.image(repository, tag, [os.urandom(64)])
    with pusher.registry.store.db.write.begin() as conn:
        conn.execute(update(tags).where(tags.c.name == tag).values(updated_at=NOW - timedelta(days=days_ago)))


async def names(retention: Retention, target: str | None = None) -> list[str]:
    return [f"{d.repository}:{d.tag}" for d in await retention.plan(NOW, target)]


@pytest.mark.anyio
async def test_keep_last_keep_days_and_patterns(retention: Retention, pusher: Pusher) -> None:
    for n, age in enumerate([1, 5, 20, 40, 60]):
        await pushed(pusher, "alice/app", f"v{n}", age)
    await pushed(pusher, "alice/app", "release-1", 100)
    await retention.set("alice/app", Policy(keep_last=2), actor="alice")
    assert await names(retention) == ["alice/app:release-1", "alice/app:v2", "alice/app:v3", "alice/app:v4"]
    await retention.set("alice/app", Policy(keep_last=2, keep_days=30, keep=("release-.*",)), actor="alice")
    assert await names(retention) == ["alice/app:v3", "alice/app:v4"]


@pytest.mark.anyio
async def test_the_preview_is_exactly_what_apply_deletes_and_it_is_audited(
    retention: Retention, pusher: Pusher, registry: Registry
) -> None:
    for n in range(4):
        await pushed(pusher, "alice/app", f"v{n}", 10 * n)
    await retention.set("alice", Policy(keep_last=1), actor="alice")
    preview = await names(retention, "alice")
    deleted = [f"{d.repository}:{d.tag}" for d in await retention.apply(NOW, "alice", actor="alice")]
    assert deleted == preview == ["alice/app:v1", "alice/app:v2", "alice/app:v3"]
    assert (await registry.tags("alice/app", None, None)).items == ["v0"]
    events = await retention.accounts.list_events(limit=10, kind="retention.delete")
    assert sorted(e.detail["tag"] for e in events) == ["v1", "v2", "v3"]


@pytest.mark.anyio
async def test_a_repository_policy_wins_and_a_tag_pushed_again_after_planning_stays(
    retention: Retention, pusher: Pusher, registry: Registry
) -> None:
    for n in range(3):
        await pushed(pusher, "alice/app", f"v{n}", 10 * n)
        await pushed(pusher, "alice/other", f"w{n}", 10 * n)
    await retention.set("alice", Policy(keep_last=1), actor=None)
    await retention.set("alice/other", Policy(keep_last=3), actor=None)
    planned = await retention.plan(NOW)
    assert [f"{d.repository}:{d.tag}" for d in planned] == ["alice/app:v1", "alice/app:v2"]
    await pushed(pusher, "alice/app", "v1", 0)  # pushed again meanwhile: another manifest
    for doomed in planned:
        await registry.delete_tag_if(doomed.repository, doomed.tag, doomed.digest)
    assert sorted((await registry.tags("alice/app", None, None)).items) == ["v0", "v1"]


@pytest.mark.anyio
async def test_bad_policies_are_refused(retention: Retention) -> None:
    with pytest.raises(InvalidInput, match="RE2"):
        await retention.set("alice", Policy(keep_last=1, keep=("(?=x)",)), actor=None)
    with pytest.raises(InvalidInput):
        await retention.set("alice", Policy(keep_last=-1), actor=None)


def test_the_cli_previews_then_applies_the_same_tags(cli: Cli) -> None:  # noqa: F811
    services = build_services(Settings(data_dir=cli.data_dir))
    try:
        for n in range(3):
            push(services, "alice/app", f"v{n}", [os.urandom(10)])
    finally:
        services.close()
    cli("retention", "set", "alice", "--keep-last", "1", "--keep", "v0")
    preview = cli("retention", "preview", "alice")
    assert "1 tags or manifests would be deleted" in preview
    doomed = [line.split()[0] for line in preview.splitlines() if line.startswith("alice/app:")]
    assert doomed in (["alice/app:v1"], ["alice/app:v2"])  # the older of the two not kept by name
    applied = cli("retention", "apply")
    assert [line.split()[0] for line in applied.splitlines() if line.startswith("alice/app:")] == doomed
    assert "not an RE2 expression" in cli("retention", "set", "alice", "--keep", "(?=x)", code=1)


@pytest.mark.anyio
async def test_untagged_manifests_go_after_their_days_and_the_collector_spares_younger_ones(
    retention: Retention, pusher: Pusher, registry: Registry, collector: Collector
) -> None:
    """``untagged_days``: the preview lists the old untagged manifest (not the young one, not an
    index's child), apply deletes exactly it and audits it, and the collector, told what the
    policy keeps, leaves the young one that it would otherwise take at no grace."""
    old = await pusher.image("alice/app", "old", [os.urandom(64)])
    young = await pusher.image("alice/app", "young", [os.urandom(64)])
    child = await pusher.image("alice/app", None, [os.urandom(64)])
    await pusher.index("alice/app", "multi", [child.digest])
    for tag in ("old", "young"):
        await registry.delete_manifest("alice/app", tag)
    with registry.store.db.write.begin() as conn:
        old_day = NOW - timedelta(days=10)
        conn.execute(update(manifests).where(manifests.c.digest == old.digest).values(created_at=old_day))
        conn.execute(update(manifests).where(manifests.c.digest == child.digest).values(created_at=old_day))
    await retention.set("alice", Policy(untagged_days=7), actor="alice")
    preview = [d.reference for d in await retention.plan(NOW)]
    assert preview == [f"alice/app@{old.digest}"]
    assert [d.reference for d in await retention.apply(NOW, actor="alice")] == preview
    assert await registry.store.manifest_by_digest("alice/app", old.digest) is None
    events = await retention.accounts.list_events(limit=10, kind="retention.delete")
    assert [e.detail["manifest"] for e in events] == [old.digest]
    collector.spare = retention.spared
    await collector.collect(0)
    assert await registry.store.manifest_by_digest("alice/app", young.digest) is not None
    assert all(pusher.stored(d) for d in young.blobs)
    assert not any(pusher.stored(d) for d in old.blobs)
    await retention.set("alice", None, actor="alice")
    await collector.collect(0)  # no policy: untagged manifests go after the grace
    assert await registry.store.manifest_by_digest("alice/app", young.digest) is None


def test_the_janitor_applies_the_policies_on_its_schedule(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    """The janitor role's retention task waits one interval, then deletes what the policies let
    go and audits it; nothing goes before the interval has passed."""
    clock = FakeClock()
    settings = Settings(data_dir=cli.data_dir, retention_interval_seconds=3600, gc_interval_seconds=0)
    services = build_services(settings, clock=clock)
    try:
        for n in range(3):
            push(services, "alice/app", f"v{n}", [os.urandom(10)])
        (task,) = [t for t in services.background({"janitor"}) if t.name == "retention"]

        async def scenario() -> list[str]:
            await services.retention.set("alice/app", Policy(keep_last=1, keep=("v0",)), actor="alice")
            async with anyio.create_task_group() as group:
                group.start_soon(task.run)
                await anyio.sleep(0.2)
                assert len(await tag_names(services)) == 3  # the first run waits one interval
                clock.advance(3600)
                with anyio.fail_after(10):
                    while len(await tag_names(services)) == 3:
                        await anyio.sleep(0.02)
                group.cancel_scope.cancel()
            events = await services.accounts.list_events(limit=10, kind="retention.delete")
            assert [e.target for e in events] == ["alice/app"]
            return await tag_names(services)

        left = anyio.run(scenario)
    finally:
        services.close()
    assert "v0" in left and len(left) == 2  # v0 kept by name, the newer of v1 and v2 by keep_last


async def tag_names(services: Services) -> list[str]:
    return (await services.registry.tags("alice/app", None, None)).items


@pytest.mark.anyio
async def test_an_old_tag_pulled_within_the_days_stays(cli: Cli) -> None:  # noqa: F811
    """keep_days keeps tags pushed *or pulled* within D days: a tag pushed 60 days ago and pulled
    today stays, one pushed as long ago and never pulled goes, and a pull older than D keeps nothing."""
    services = build_services(Settings(data_dir=cli.data_dir))
    try:
        pusher = Pusher(services.registry, services.settings.storage_root)
        for tag in ("pulled", "idle"):
            await pushed(pusher, "alice/app", tag, 60)
        await services.registry.pull_manifest("alice/app", "pulled", None, "bobby")
        await services.activity.flush()  # the pull statistics, as the server writes them
        await services.retention.set("alice/app", Policy(keep_days=30), actor="alice")
        assert await names(services.retention) == ["alice/app:idle"]
        with services.database.write.begin() as conn:
            conn.execute(update(tag_activity).values(last_pulled_at=NOW - timedelta(days=40)))
        assert await names(services.retention) == ["alice/app:idle", "alice/app:pulled"]
    finally:
        services.close()
