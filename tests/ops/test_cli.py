"""`dockyard gc` and `dockyard repo delete`, in-process through Typer's runner, on a data folder
holding images pushed through the registry's own upload and manifest paths."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from typer.testing import CliRunner

from dockyard.cli.main import app
from dockyard.config import Settings
from dockyard.services import Services, build_services
from tests.ops.conftest import Pushed, Pusher


class Cli:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.runner = CliRunner(env={"COLUMNS": "200", "DOCKYARD_DATA_DIR": str(data_dir)})
        self("migrate")

    def __call__(self, *args: str, code: int = 0) -> str:
        result = self.runner.invoke(app, list(args))
        assert result.exit_code == code, (args, result.stdout, result.stderr, result.exception)
        return result.stdout + result.stderr


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "data")


@pytest.fixture
def services(cli: Cli, tmp_path: Path) -> Iterator[Services]:
    built = build_services(Settings(data_dir=tmp_path / "data"))
    yield built
    built.close()


def push(services: Services, repository: str, tag: str, layers: list[bytes]) -> tuple[Pusher, Pushed]:
    pusher = Pusher(services.registry, services.settings.storage_root)
    return pusher, anyio.run(pusher.image, repository, tag, layers)


def test_gc_dry_run_then_gc_free_a_deleted_tags_bytes(cli: Cli, services: Services) -> None:
    pusher, old = push(services, "alice/app", "old", [os.urandom(4096)])
    push(services, "alice/app", "new", [os.urandom(4096)])
    anyio.run(services.registry.delete_manifest, "alice/app", "old")
    before = pusher.bytes_on_disk()

    preview = cli("gc", "--dry-run", "--grace-seconds", "0")
    assert "would free" in preview and "1 manifests, 2 blobs" in preview
    assert pusher.bytes_on_disk() == before

    done = cli("gc", "--grace-seconds", "0")
    freed = before - pusher.bytes_on_disk()
    assert f"freed {freed} bytes: 1 manifests, 2 blobs" in done
    assert not any(pusher.stored(d) for d in old.blobs)
    assert "freed 0 bytes" in cli("gc", "--grace-seconds", "0")


def test_gc_spares_recent_pushes_by_default(cli: Cli, services: Services) -> None:
    pusher, old = push(services, "alice/app", "old", [os.urandom(4096)])
    anyio.run(services.registry.delete_manifest, "alice/app", "old")
    assert "freed 0 bytes" in cli("gc")  # DOCKYARD_GC_GRACE_SECONDS: an hour
    assert all(pusher.stored(d) for d in old.blobs)


def test_repo_delete_then_gc_frees_the_repository_and_its_name_is_free(cli: Cli, services: Services) -> None:
    pusher, _ = push(services, "alice/app", "v1", [os.urandom(4096)])
    assert "Deleted repository alice/app" in cli("repo", "delete", "alice/app")
    assert "not found" in cli("repo", "delete", "alice/app", code=1)
    assert "2 blobs" in cli("gc", "--grace-seconds", "0")
    assert pusher.bytes_on_disk() == 0
    _, again = push(services, "alice/app", "v1", [os.urandom(10)])
    assert anyio.run(services.registry.manifest, "alice/app", "v1", None).digest == again.digest
