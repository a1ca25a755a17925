"""Organisations, teams, repositories and the audit log through AccountService."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.accounts.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from dockyard.accounts.records import Principal
from dockyard.accounts.service import AccountService
from dockyard.db.engine import Database
from dockyard.registry.store import MetadataStore
from tests.accounts.conftest import PASSWORD

pytestmark = pytest.mark.anyio
DIGEST = "sha256:" + "a" * 64


# -- users ---------------------------------------------------------------------------------------------


async def test_users(accounts: AccountService) -> None:
    assert await accounts.user_count() == 0
    created = await accounts.create_user("alice", "alice@example.com", PASSWORD)
    assert (created.username, created.email, created.is_admin, created.default_private) == (
        "alice",
        "alice@example.com",
        False,
        False,
    )
    assert created.created_at.tzinfo is not None
    await accounts.create_user("bobby", "", PASSWORD, admin=True)
    assert [u.username for u in await accounts.list_users()] == ["alice", "bobby"]
    assert await accounts.user_count() == 2
    assert (await accounts.set_admin("alice", True)).is_admin
    assert await accounts.get_user("nobody") is None
    with pytest.raises(NotFound):
        await accounts.set_admin("nobody", True)
    with pytest.raises(InvalidInput, match="email"):
        await accounts.create_user("carol", "not an email", PASSWORD)


# -- organisations and teams -----------------------------------------------------------------------


async def test_org_creation_makes_an_owners_team(accounts: AccountService, alice: Principal) -> None:
    org = await accounts.create_org("acme", "alice")
    assert org.name == "acme" and not org.default_private
    (owners,) = await accounts.list_teams("acme")
    assert (owners.name, owners.members) == ("owners", ("alice",))
    with pytest.raises(NotFound, match="no user"):
        await accounts.create_org("other", "nobody")
    assert await accounts.get_org("other") is None
    assert [o.name for o in await accounts.list_orgs()] == ["acme"]


async def test_teams_and_members(accounts: AccountService, alice: Principal) -> None:
    await accounts.create_user("bobby", "", PASSWORD)
    await accounts.create_org("acme", "alice")
    team = await accounts.create_team("acme", "devs", "Developers")
    assert (team.organization, team.name, team.description) == ("acme", "devs", "Developers")
    assert team.members == ()
    with pytest.raises(AlreadyExists):
        await accounts.create_team("acme", "devs")
    with pytest.raises(NotFound, match="organisation"):
        await accounts.create_team("nowhere", "devs")
    with pytest.raises(NotFound, match="organisation"):
        await accounts.create_team("alice", "devs")  # a user is not an organisation
    assert await accounts.add_team_member("acme", "devs", "bobby") is True
    assert await accounts.add_team_member("acme", "devs", "bobby") is False  # idempotent
    with pytest.raises(NotFound, match="no user"):
        await accounts.add_team_member("acme", "devs", "nobody")
    with pytest.raises(NotFound, match="no team"):
        await accounts.add_team_member("acme", "nope", "bobby")
    teams = {t.name: t.members for t in await accounts.list_teams("acme")}
    assert teams == {"devs": ("bobby",), "owners": ("alice",)}
    await accounts.remove_team_member("acme", "devs", "bobby")
    with pytest.raises(NotFound, match="not a member"):
        await accounts.remove_team_member("acme", "devs", "bobby")


async def test_the_last_owner_stays(accounts: AccountService, alice: Principal) -> None:
    await accounts.create_user("bobby", "", PASSWORD)
    await accounts.create_org("acme", "alice")
    with pytest.raises(Conflict, match="last owner"):
        await accounts.remove_team_member("acme", "owners", "alice")
    await accounts.add_team_member("acme", "owners", "bobby")
    await accounts.remove_team_member("acme", "owners", "alice")
    assert [t.members for t in await accounts.list_teams("acme")] == [("bobby",)]


async def test_team_permissions(accounts: AccountService, alice: Principal) -> None:
    await accounts.create_org("acme", "alice")
    await accounts.create_team("acme", "devs")
    with pytest.raises(NotFound, match="repo create"):
        await accounts.set_team_permission("acme", "devs", "acme/app", "read")
    await accounts.create_repository("acme/app")
    await accounts.create_repository("alice/app")
    with pytest.raises(InvalidInput, match="read, write, admin"):
        await accounts.set_team_permission("acme", "devs", "acme/app", "owner")
    with pytest.raises(InvalidInput, match="not a repository of organisation"):
        await accounts.set_team_permission("acme", "devs", "alice/app", "read")
    granted = await accounts.set_team_permission("acme", "devs", "acme/app", "write")
    assert (granted.team, granted.repository, granted.permission) == ("devs", "acme/app", "write")
    await accounts.set_team_permission("acme", "devs", "acme/app", "admin")
    listed = await accounts.list_team_permissions("acme")
    assert [(p.team, p.permission) for p in listed] == [("devs", "admin")]
    await accounts.remove_team_permission("acme", "devs", "acme/app")
    assert await accounts.list_team_permissions("acme", "devs") == []
    with pytest.raises(NotFound, match="no permission"):
        await accounts.remove_team_permission("acme", "devs", "acme/app")


# -- repositories ------------------------------------------------------------------------------------------


async def test_create_repository(accounts: AccountService, alice: Principal) -> None:
    repo = await accounts.create_repository("alice/app", description="An app", created_by=alice)
    assert (repo.name, repo.namespace, repo.is_private, repo.description, repo.created_by) == (
        "alice/app",
        "alice",
        False,
        "An app",
        "alice",
    )
    assert (await accounts.create_repository("alice/secret", private=True)).is_private
    assert (await accounts.create_repository("busybox")).name == "library/busybox"
    with pytest.raises(AlreadyExists):
        await accounts.create_repository("alice/app")
    with pytest.raises(NotFound, match="no user or organisation"):
        await accounts.create_repository("nobody/app")
    with pytest.raises(InvalidInput, match="100"):
        await accounts.create_repository("alice/long", description="x" * 101)
    assert [r.name for r in await accounts.list_repositories("alice")] == ["alice/app", "alice/secret"]


async def test_visibility_and_descriptions(accounts: AccountService, alice: Principal) -> None:
    await accounts.create_repository("alice/app")
    assert (await accounts.set_visibility("alice/app", True)).is_private
    assert not (await accounts.set_visibility("alice/app", False)).is_private
    with pytest.raises(NotFound):
        await accounts.set_visibility("alice/none", True)
    updated = await accounts.set_description("alice/app", "short", "# Long\nmarkdown")
    assert (updated.description, updated.full_description) == ("short", "# Long\nmarkdown")


async def test_ensure_repository_follows_the_namespace_default(
    accounts: AccountService, alice: Principal
) -> None:
    await accounts.ensure_repository("alice/first", alice)
    first = await accounts.get_repository("alice/first")
    assert first is not None and not first.is_private and first.created_by == "alice"

    await accounts.set_default_private("alice", True)
    assert (await accounts.get_user("alice")).default_private  # type: ignore[union-attr]
    await accounts.ensure_repository("alice/second", alice)
    second = await accounts.get_repository("alice/second")
    assert second is not None and second.is_private

    await accounts.ensure_repository("alice/first", alice)  # present: untouched
    again = await accounts.get_repository("alice/first")
    assert again is not None and not again.is_private

    await accounts.create_org("acme", "alice")
    await accounts.set_default_private("acme", True)
    await accounts.ensure_repository("acme/pushed", alice)
    assert (await accounts.get_repository("acme/pushed")).is_private  # type: ignore[union-attr]
    await accounts.ensure_repository("library/official", None)
    assert not (await accounts.get_repository("library/official")).is_private  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await accounts.set_default_private("nobody", True)


async def test_registry_store_rows_get_namespace_and_defaults(
    accounts: AccountService, database: Database, alice: Principal
) -> None:
    """The registry's own insert path (MetadataStore) needs no change: defaults fill the new columns."""
    store = MetadataStore(database)
    await store.link_blob("alice/deep/name", DIGEST, 3)
    repo = await accounts.get_repository("alice/deep/name")
    assert repo is not None
    assert (repo.namespace, repo.is_private) == ("alice", False)
    assert (repo.description, repo.full_description) == ("", "")
    assert [r.name for r in await accounts.list_repositories("alice")] == ["alice/deep/name"]
    # ensure_repository first, then the store: the store keeps the row ensure_repository made.
    await accounts.set_default_private("alice", True)
    await accounts.ensure_repository("alice/private", alice)
    await store.link_blob("alice/private", DIGEST, 3)
    assert (await accounts.get_repository("alice/private")).is_private  # type: ignore[union-attr]


# -- audit log -----------------------------------------------------------------------------------------------


async def test_changes_are_audited(accounts: AccountService, alice: Principal) -> None:
    await accounts.create_user("bobby", "", PASSWORD)
    await accounts.create_org("acme", "alice")
    await accounts.create_team("acme", "devs")
    await accounts.add_team_member("acme", "devs", "bobby", actor="alice")
    await accounts.create_repository("acme/app", private=True, created_by=alice)
    await accounts.set_team_permission("acme", "devs", "acme/app", "read", actor="alice")
    await accounts.set_visibility("acme/app", False, actor="alice")
    token, _ = await accounts.create_token("bobby", "ci", ["repo:read"], actor="bobby")
    await accounts.revoke_token("bobby", token.id, actor="alice")
    await accounts.remove_team_member("acme", "devs", "bobby", actor="alice")

    kinds = [e.kind for e in reversed(await accounts.list_events())]
    assert kinds == [
        "user.created",
        "user.created",
        "org.created",
        "team.created",
        "team.member_added",
        "repository.created",
        "permission.changed",
        "visibility.changed",
        "token.created",
        "token.revoked",
        "team.member_removed",
    ]
    (changed,) = await accounts.list_events(kind="permission.changed")
    assert (changed.actor, changed.target, changed.detail["permission"]) == ("alice", "acme/app", "read")
    (revoked,) = await accounts.list_events(kind="token.revoked")
    assert revoked.detail == {"token_id": token.id, "label": "ci"}
    assert [e.kind for e in await accounts.list_events(actor="bobby")] == ["token.created"]
    assert len(await accounts.list_events(limit=3)) == 3


async def test_record_event_for_logins_and_pushes(accounts: AccountService) -> None:
    await accounts.record_event("login.failure", actor="alice", ip="192.0.2.1", detail={"via": "password"})
    await accounts.record_event(
        "push", actor="alice", ip="192.0.2.1", target="alice/app", detail={"tag": "v1"}
    )
    push, failure = await accounts.list_events()
    assert (push.kind, push.actor, push.ip, push.target, push.detail) == (
        "push",
        "alice",
        "192.0.2.1",
        "alice/app",
        {"tag": "v1"},
    )
    assert failure.kind == "login.failure" and failure.target is None


async def test_audit_never_holds_secrets(accounts: AccountService, alice: Principal, tmp_path: Path) -> None:
    _, plaintext = await accounts.create_token("alice", "ci", ["repo:write"])
    await accounts.set_password("alice", "new password 123")
    # Even a careless caller cannot put a secret into the log.
    await accounts.record_event(
        "login.failure",
        actor="alice",
        detail={"password": PASSWORD, "Authorization": "Basic abc", "token": plaintext, "note": plaintext,
                "nested": {"secret": "s3cret", "list": [plaintext]}},
    )  # fmt: skip
    await accounts.record_event("login.failure", actor=plaintext, target=plaintext, detail={})
    dumped = json.dumps([[e.kind, e.actor, e.target, e.detail] for e in await accounts.list_events()])
    for secret in (PASSWORD, "new password 123", plaintext, "s3cret", "Basic abc"):
        assert secret not in dumped
    assert "[redacted]" in dumped
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("dockyard.db*"))
    for secret in (PASSWORD, "new password 123", plaintext, "s3cret"):
        assert secret.encode() not in raw
