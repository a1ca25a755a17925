"""Issue 9, item 3: secrets at rest, private data files, and an audit event for every change of access.

webhook URL and secret      sealed with the server key, which is not in the database
a database from before      `dockyard migrate` seals its plain webhook secrets; the builds' old
                            key file is moved out of the build workspace folder, not copied
data folder                 0700, database and its WAL/SHM 0600, storage 0700 inside, keys 0600;
                            what an older version left readable is tightened at start-up
audit                       visibility, team permissions, tokens, admin flag, disable, enable,
                            delete, password, webhooks, repository deletion: one event each
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from argon2 import PasswordHasher
from cryptography.fernet import Fernet

from dockyard.accounts.credentials import Passwords
from dockyard.accounts.records import Principal
from dockyard.accounts.service import AccountService
from dockyard.db.engine import make_database
from dockyard.events import Dispatcher
from dockyard.hub.activity import ActivityHandlers
from dockyard.hub.build_events import BuildWebhooks
from dockyard.hub.service import HubService
from dockyard.migrations import alembic_config, upgrade
from dockyard.registry.service import Registry
from dockyard.registry.store import MetadataStore
from dockyard.secretbox import SecretBox
from dockyard.services import register_handlers
from dockyard.storage import create_driver
from tests.access.helpers import World, run_cli, threaded_world
from tests.conftest import OPEN_REGISTRY, DockyardServer
from tests.security.account_clients import hub_token

SECRET = "s3cret-signing-value-that-must-not-leak"
URL_TOKEN = "XyZ-bearer-part-of-the-url-0123456789"
HOOK_URL = f"https://hooks.example.com/services/T000/B000/{URL_TOKEN}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with threaded_world(tmp_path_factory.mktemp("secrets") / "data") as world:
        yield world


def database_bytes(data_dir: Path) -> bytes:
    """Every byte SQLite keeps of the database: the file and its write-ahead log."""
    return b"".join(
        path.read_bytes()
        for path in (data_dir / "dockyard.db", data_dir / "dockyard.db-wal")
        if path.exists()
    )


def test_webhook_url_and_secret_are_not_in_the_database(world: World) -> None:
    """Defends against a copy of dockyard.db (a backup, a local reader) handing out webhook signing
    secrets and the bearer tokens inside webhook URLs: on main both were stored in plain text."""
    password = world.create_user("alice")
    headers = {"Authorization": f"Bearer {hub_token(world, 'alice', password)}"}
    with httpx.Client(base_url=world.server.url, headers=headers, timeout=30) as api:
        assert api.post("/v2/repositories/", json={"namespace": "alice", "name": "app"}).status_code == 201
        made = api.post(
            "/v2/repositories/alice/app/webhooks", json={"name": "ci", "hook_url": HOOK_URL, "secret": SECRET}
        )
        assert made.status_code == 201, made.text
        listed = api.get(f"/v2/repositories/alice/app/webhooks/{made.json()['id']}").json()
    assert listed["hook_url"] == HOOK_URL  # the owner still sees it: it is sealed, not lost

    stored = database_bytes(world.data_dir)
    assert HOOK_URL.encode() not in stored and URL_TOKEN.encode() not in stored
    assert SECRET.encode() not in stored
    key = world.data_dir / "keys" / "secrets.key"
    assert key.read_bytes().strip() not in stored
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    events = world.cli("audit", "--kind", "webhook.added").stdout
    assert "alice/app" in events and URL_TOKEN not in events and SECRET not in events


def test_migration_seals_plain_webhook_secrets_with_the_moved_key(tmp_path: Path) -> None:
    """Defends the secrets of an existing installation: upgrading must seal the webhook URLs and
    secrets already stored in plain text (with the key the builds already used, moved out of the
    build workspace folder), and refuse to upgrade without a key rather than leave them readable."""
    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite:///{data / 'dockyard.db'}"
    command.upgrade(alembic_config(url), "0004")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO repositories (name, namespace, created_at) "
            "VALUES ('alice/app', 'alice', '2026-01-01')"
        )
        conn.exec_driver_sql(
            "INSERT INTO webhooks (repository_id, name, url, secret, active, created_at) "
            f"VALUES (1, 'ci', '{HOOK_URL}', '{SECRET}', 1, '2026-01-01'), "
            "(1, 'plain', 'http://x/', '', 1, '2026-01-01')"
        )
    engine.dispose()
    with pytest.raises(RuntimeError, match="sealed"):
        upgrade(url)  # no key handed over: refused
    legacy_key = Fernet.generate_key()
    (data / "builds").mkdir(mode=0o700)
    (data / "builds" / "secrets.key").write_bytes(legacy_key)

    run_cli(data, "migrate")

    assert (data / "keys" / "secrets.key").read_bytes() == legacy_key
    assert not (data / "builds" / "secrets.key").exists()
    assert SECRET.encode() not in database_bytes(data) and URL_TOKEN.encode() not in database_bytes(data)
    box = SecretBox(legacy_key)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT sealed_url, sealed_secret FROM webhooks ORDER BY id").all()
    engine.dispose()
    assert box.open_text(rows[0].sealed_url) == HOOK_URL and box.open_text(rows[0].sealed_secret) == SECRET
    assert box.open_text(rows[1].sealed_url) == "http://x/" and rows[1].sealed_secret is None


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _group_or_other_can_read(root: Path) -> list[str]:
    loose = []
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            if not path.is_symlink() and _mode(path) & 0o077:
                loose.append(f"{path} {oct(_mode(path))}")
    return loose


def test_data_files_are_private_to_the_server_account(tmp_path: Path) -> None:
    """Defends password hashes, token hashes and private images against other local users: on main
    dockyard.db was 0644 and storage/ 0755. Files the server makes while running (blobs, upload
    sessions) are private too (umask), and loose modes left by an older version are tightened."""
    data = tmp_path / "data"
    with DockyardServer(data, env=OPEN_REGISTRY) as server:
        blob = os.urandom(4096)
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        pushed = httpx.post(
            f"{server.url}/v2/private/thing/blobs/uploads/?digest={digest}",
            content=blob,
            headers={"Content-Type": "application/octet-stream"},
            timeout=30,
        )
        assert pushed.status_code == 201, pushed.text
        started = httpx.post(f"{server.url}/v2/private/thing/blobs/uploads/", timeout=30)
        assert started.status_code == 202, started.text  # an upload session left in storage
        assert _mode(data) == 0o700
        for name in ("dockyard.db", "dockyard.db-wal", "dockyard.db-shm"):
            assert _mode(data / name) == 0o600, name
        for folder in ("storage", "keys", "auth"):
            assert _mode(data / folder) == 0o700, folder
        assert _group_or_other_can_read(data) == []

    os.chmod(data, 0o755)
    for name in ("dockyard.db", "dockyard.db-wal", "dockyard.db-shm", "keys/secrets.key"):
        if (data / name).exists():
            os.chmod(data / name, 0o644)
    for folder in ("storage", "keys"):
        os.chmod(data / folder, 0o755)
    run_cli(data, "migrate")
    assert _mode(data) == 0o700 and _mode(data / "dockyard.db") == 0o600
    assert _mode(data / "storage") == 0o700 and _mode(data / "keys" / "secrets.key") == 0o600


def test_every_change_of_access_and_of_webhooks_is_audited(tmp_path: Path) -> None:
    """Defends the audit trail: each change of who may do what (visibility, team permissions,
    access tokens, administrators, disabling, deleting, passwords) and each webhook added or removed
    writes one event naming what changed. On main webhooks wrote none."""
    anyio.run(_audit_scenario, tmp_path)


async def _audit_scenario(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dockyard.db'}"
    upgrade(url)
    database = make_database(url)
    passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    accounts = AccountService(database, passwords)
    dispatcher = Dispatcher(database)  # a deletion is audited by its outbox event's handler
    register_handlers(dispatcher, ActivityHandlers(database, "http://hub"), BuildWebhooks("http://hub"))
    registry = Registry(
        create_driver("filesystem", root=tmp_path / "storage"),
        MetadataStore(database),
        1 << 20,
        dispatcher=dispatcher,
    )
    hub = HubService(
        database, accounts, registry, base_url="http://hub", secrets=SecretBox.from_data_dir(tmp_path)
    )
    try:
        await accounts.create_user("alice", "", "a fine password")
        await accounts.create_user("bobby", "", "a fine password")
        alice = Principal("alice", 1, False)
        await accounts.create_org("acme", "alice")
        await accounts.create_team("acme", "readers")
        await accounts.create_repository("acme/app")
        await accounts.create_repository("alice/app")
        await accounts.set_visibility("alice/app", True, actor="alice")
        await accounts.set_team_permission("acme", "readers", "acme/app", "read", actor="alice")
        await accounts.remove_team_permission("acme", "readers", "acme/app", actor="alice")
        token, _ = await accounts.create_token("alice", "ci", ["repo:read"], actor="alice")
        await accounts.revoke_token("alice", token.id, actor="alice")
        await accounts.set_admin("bobby", True, actor="root")
        await accounts.set_password("bobby", "another fine password", actor="root")
        await accounts.set_disabled("bobby", True, actor="root")
        await accounts.set_disabled("bobby", False, actor="root")
        hook = await hub.add_webhook(alice, "alice/app", "ci", HOOK_URL, SECRET)
        await hub.remove_webhook(alice, "alice/app", hook.id)
        await hub.delete_repository(alice, "alice/app")
        await accounts.delete_user("bobby", actor="root")

        kinds = [event.kind for event in reversed(await accounts.list_events(limit=100))]
        assert kinds == [
            "user.created",
            "user.created",
            "org.created",
            "team.created",
            "repository.created",
            "repository.created",
            "visibility.changed",
            "permission.changed",
            "permission.changed",
            "token.created",
            "token.revoked",
            "admin.changed",
            "password.changed",
            "user.disabled",
            "user.enabled",
            "webhook.added",
            "webhook.removed",
            "repository.deleted",
            "user.deleted",
        ]
        added = (await accounts.list_events(kind="webhook.added"))[0]
        assert added.actor == "alice" and added.target == "alice/app"
        assert added.detail == {"webhook_id": hook.id, "name": "ci", "host": "hooks.example.com"}
    finally:
        database.dispose()
