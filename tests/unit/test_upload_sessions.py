"""Upload sessions and the repositories they belong to, on a real SQLite database and folder."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select

from dockyard.accounts import readmodels as account_reads
from dockyard.db.engine import Database
from dockyard.db.models import Namespace, Repository
from dockyard.digests import Digest
from dockyard.registry import uploads as uploads_module
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.store import MetadataStore
from dockyard.registry.uploads import UploadService
from dockyard.storage import create_driver
from tests.postgres.fixtures import database_url, postgres_template, postgres_url  # noqa: F401

pytestmark = pytest.mark.anyio


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@pytest.fixture
def store(database: Database) -> MetadataStore:
    """As the composition root builds it: the accounts' namespaces give new repositories' visibility."""
    return MetadataStore(database, default_private=account_reads.default_private)


@pytest.fixture
def uploads(tmp_path: Path, store: MetadataStore) -> UploadService:
    return UploadService(create_driver("filesystem", root=tmp_path / "storage"), store)


def is_private(database: Database, name: str) -> bool:
    with database.read.connect() as conn:
        return bool(conn.execute(select(Repository.is_private).where(Repository.name == name)).scalar_one())


def add_namespace(database: Database, name: str, *, private: bool) -> None:
    with database.write.begin() as conn:
        conn.execute(
            insert(Namespace).values(
                name=name, kind="user", default_private=private, created_at=datetime.now(UTC)
            )
        )


def drop_repository(database: Database, name: str) -> None:
    """What a repository delete does to the registry's rows, without ending the sessions."""
    with database.write.begin() as conn:
        conn.execute(delete(Repository).where(Repository.name == name))


async def test_unknown_upload_ids_leave_no_state_behind(uploads: UploadService) -> None:
    for upload_id in ("x" * 20_000, "00000000-0000-0000-0000-000000000000", "{" + "0" * 32 + "}"):
        with pytest.raises(RegistryError) as info:
            await uploads.append("library/a", upload_id, body(b"abc"))
        assert info.value.code is ErrorCode.BLOB_UPLOAD_UNKNOWN
        assert len(info.value.detail["uuid"]) <= 36
    assert len(uploads._locks) == 0
    assert len(uploads._hashes) == 0


async def test_a_session_spelled_another_way_is_unknown(uploads: UploadService) -> None:
    """One session, one spelling: an upper-case or brace form of the id would get a lock of its own."""
    status = await uploads.start("library/a")
    for spelling in (status.id.upper(), "{" + status.id + "}", status.id.replace("-", "")):
        with pytest.raises(RegistryError):
            await uploads.append("library/a", spelling, body(b"abc"))
    assert (await uploads.append("library/a", status.id, body(b"abc"))).offset == 3
    assert len(uploads._locks) == 0  # released with the request


async def test_cached_hashes_are_capped(uploads: UploadService, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uploads_module, "MAX_HASH_STATES", 3)
    sessions = [await uploads.start("library/a") for _ in range(5)]
    assert len(uploads._hashes) == 3
    first = sessions[0]
    await uploads.append("library/a", first.id, body(b"hello"))  # its hash is recomputed from storage
    digest = Digest("sha256", hashlib.sha256(b"hello").hexdigest())
    assert await uploads.complete("library/a", first.id, digest, None) == 5


async def test_a_session_never_finishes_into_a_recreated_repository(
    uploads: UploadService, store: MetadataStore, database: Database
) -> None:
    """The repository is deleted (its sessions not ended: a crash, a race) and made again under
    the same name. SQLite hands the new row the deleted one's id; the creation time tells them apart."""
    status = await uploads.start("alice/app")
    await uploads.append("alice/app", status.id, body(b"layer"))
    drop_repository(database, "alice/app")
    await store.ensure_repository("alice/app")

    digest = Digest("sha256", hashlib.sha256(b"layer").hexdigest())
    with pytest.raises(RegistryError) as info:
        await uploads.complete("alice/app", status.id, digest, None)

    assert info.value.code is ErrorCode.BLOB_UPLOAD_UNKNOWN
    assert await store.linked_blob_size("alice/app", str(digest)) is None


async def test_finishing_after_the_repository_was_deleted_is_unknown(
    uploads: UploadService, store: MetadataStore, database: Database
) -> None:
    status = await uploads.start("alice/gone")
    drop_repository(database, "alice/gone")
    digest = Digest("sha256", hashlib.sha256(b"late").hexdigest())
    with pytest.raises(RegistryError) as info:
        await uploads.complete("alice/gone", status.id, digest, body(b"late"))
    assert info.value.code is ErrorCode.BLOB_UPLOAD_UNKNOWN
    assert await store.repository_identity("alice/gone") is None  # not brought back


async def test_ending_a_repository_ends_only_its_sessions(tmp_path: Path, uploads: UploadService) -> None:
    mine = [await uploads.start("alice/app") for _ in range(2)]
    other = await uploads.start("alice/other")
    assert await uploads.end_repository("alice/app") == 2
    for status in mine:
        assert not (tmp_path / "storage" / "uploads" / status.id).exists()
    assert (await uploads.status("alice/other", other.id)).offset == 0


@pytest.mark.parametrize("private", [True, False])
async def test_repositories_the_registry_creates_take_the_namespace_default(
    store: MetadataStore, database: Database, private: bool
) -> None:
    add_namespace(database, "carol", private=private)
    await store.link_blob("carol/by-mount", "sha256:" + "a" * 64, 1)
    await store.ensure_repository("carol/by-upload")
    assert is_private(database, "carol/by-mount") is private
    assert is_private(database, "carol/by-upload") is private


async def test_a_namespace_without_a_row_is_public(store: MetadataStore, database: Database) -> None:
    await store.ensure_repository("library/tools")
    await store.ensure_repository("open/registry")
    assert not is_private(database, "library/tools")
    assert not is_private(database, "open/registry")
