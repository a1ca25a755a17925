"""Immutable tags: the rule in the manifest PUT's transaction, the CLI, the JSON API."""

from __future__ import annotations

import os

import pytest

from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.immutability import InvalidRule, covers, validate
from dockyard.registry.service import Registry
from tests.api.helpers import Hub
from tests.ops.conftest import Pusher
from tests.ops.test_cli import Cli, cli, push  # noqa: F401  (cli: a fixture)

REPO = "alice/app"


@pytest.mark.anyio
async def test_a_push_may_create_a_tag_but_never_move_it(registry: Registry, pusher: Pusher) -> None:
    first = await pusher.image(REPO, "v1", [os.urandom(100)])
    await registry.tag_rules.set(REPO, [])
    with pytest.raises(RegistryError) as refused:
        await pusher.image(REPO, "v1", [os.urandom(100)])
    assert refused.value.code == ErrorCode.DENIED and refused.value.message == "tag v1 is immutable"
    assert (await registry.manifest(REPO, "v1", None)).digest == first.digest
    content = (await registry.manifest(REPO, "v1", None)).content
    await registry.put_manifest(REPO, "v1", content, None, [])  # the same manifest again: no move
    await pusher.image(REPO, "v2", [os.urandom(100)])  # a new tag
    await registry.tag_rules.set(REPO, None)
    await pusher.image(REPO, "v1", [os.urandom(100)])


@pytest.mark.anyio
async def test_a_refused_push_stores_nothing(registry: Registry, pusher: Pusher) -> None:
    await pusher.image(REPO, "v1", [os.urandom(100)])
    await registry.tag_rules.set(REPO, [])
    count = await registry.store.count_manifests()
    with pytest.raises(RegistryError):
        await pusher.image(REPO, "v1", [os.urandom(100)])
    assert await registry.store.count_manifests() == count


@pytest.mark.anyio
async def test_rules_limit_immutability_to_matching_tags(registry: Registry, pusher: Pusher) -> None:
    await pusher.image(REPO, "latest", [os.urandom(100)])
    await pusher.image(REPO, "release-1", [os.urandom(100)])
    await registry.tag_rules.set(REPO, [r"release-\d+"])
    assert await registry.tag_rules.get(REPO) == [r"release-\d+"]
    await pusher.image(REPO, "latest", [os.urandom(100)])
    with pytest.raises(RegistryError, match="tag release-1 is immutable"):
        await pusher.image(REPO, "release-1", [os.urandom(100)])


def test_rules_are_re2_and_match_whole_tags() -> None:
    assert covers([], "anything") and covers(["v.*"], "v1") and not covers(["v"], "v1")
    with pytest.raises(InvalidRule, match="RE2"):
        validate([r"(a)\1"])


def test_the_cli_turns_immutability_on_and_off(cli: Cli) -> None:  # noqa: F811
    from dockyard.config import Settings
    from dockyard.services import build_services

    services = build_services(Settings(data_dir=cli.data_dir))
    try:
        push(services, REPO, "v1", [os.urandom(10)])
        assert "immutable (every tag)" in cli("repo", "immutable", REPO)
        assert "immutable (v.*, x)" in cli("repo", "immutable", REPO, "--rule", "v.*", "--rule", "x")
        assert "not an RE2 expression" in cli("repo", "immutable", REPO, "--rule", "(?=x)", code=1)
        assert "may move again" in cli("repo", "immutable", REPO, "--off")
        assert "not found" in cli("repo", "immutable", "alice/none", code=1)
    finally:
        services.close()


@pytest.mark.e2e  # the `hub` fixture is a real server
def test_the_api_reads_and_sets_immutability(hub: Hub, unique: str) -> None:
    repository = f"alice/immutable-{unique}"
    hub.push_image("alice", repository, "v1")
    path = f"/v2/repositories/{repository}/immutabletags"
    assert hub.api("alice").get(path).json() == {"enabled": False, "rules": []}
    assert hub.api("carol").put(path, json={"enabled": True}).status_code in (403, 404)
    assert hub.api("alice").put(path, json={"enabled": True, "rules": ["(?=x)"]}).status_code == 400
    turned = hub.api("alice").put(path, json={"enabled": True, "rules": ["v1"]})
    assert turned.status_code == 200 and turned.json() == {"enabled": True, "rules": ["v1"]}
    with pytest.raises(AssertionError, match="tag v1 is immutable"):
        hub.push_image("alice", repository, "v1")
    hub.push_image("alice", repository, "v2")
    assert hub.api("alice").put(path, json={"enabled": False}).json() == {"enabled": False, "rules": []}
    hub.push_image("alice", repository, "v1")
