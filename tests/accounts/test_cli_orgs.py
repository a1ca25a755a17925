"""`dockyard org member ...`, `org delete`, `team delete` and `repo collaborator ...`, in-process
through Typer's runner: what they print, what they change, and errors as one line."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.accounts.test_cli import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    made = Cli(tmp_path / "data")
    for name in ("alice", "bobby", "carol"):
        made.user(name)
    made("org", "create", "acme", "--owner", "alice")
    return made


def test_org_members_and_roles(cli: Cli) -> None:
    _, said = cli("org", "member", "add", "acme", "bobby")
    assert "Added bobby to acme as member." in said
    cli("org", "member", "add", "acme", "carol", "--role", "owner")
    listed, _ = cli("org", "member", "list", "acme")
    rows = {line.split()[1]: line.split()[3] for line in listed.splitlines() if line.startswith("│ ")}
    assert rows == {"alice": "owner", "bobby": "member", "carol": "owner"}
    _, said = cli("org", "member", "role", "acme", "alice", "member")
    assert "alice is now member of acme." in said
    _, error = cli("org", "member", "role", "acme", "carol", "member", code=1)
    assert "carol' is the last owner of 'acme'" in error and "Traceback" not in error
    _, error = cli("org", "member", "remove", "acme", "carol", code=1)
    assert "last owner" in error
    cli("org", "member", "remove", "acme", "bobby")
    _, error = cli("org", "member", "add", "acme", "alice", "--role", "boss", code=1)
    assert "role must be one of owner, member" in error
    accounts = cli.accounts()
    try:
        members = anyio.run(accounts.list_members, "acme")
        assert {(m.username, m.role) for m in members} == {("alice", "member"), ("carol", "owner")}
    finally:
        accounts.db.dispose()


def test_team_and_org_deletion(cli: Cli) -> None:
    cli("team", "create", "acme", "devs")
    cli("team", "add-member", "acme", "devs", "bobby")
    _, said = cli("team", "delete", "acme", "devs")
    assert "Deleted team acme/devs." in said
    _, error = cli("team", "delete", "acme", "owners", code=1)
    assert "cannot be deleted" in error
    cli("repo", "create", "acme/app")
    _, error = cli("org", "delete", "acme", "--confirm", "acme", code=1)
    assert "still has 1 repositories" in error
    _, error = cli("org", "delete", "acme", input="acmx\n", code=1)
    assert "nothing was deleted" in error
    cli("org", "create", "empty", "--owner", "alice")
    _, said = cli("org", "delete", "empty", input="empty\n")
    assert "Deleted organisation empty; the name stays retired." in said
    _, error = cli("org", "create", "empty", "--owner", "alice", code=1)
    assert "deleted account" in error


def test_collaborators(cli: Cli) -> None:
    cli("repo", "create", "alice/app", "--private")
    _, said = cli("repo", "collaborator", "add", "alice/app", "bobby")
    assert "bobby has write on alice/app." in said
    cli("repo", "collaborator", "add", "alice/app", "carol", "--permission", "read")
    listed, _ = cli("repo", "collaborator", "list", "alice/app")
    rows = {line.split()[1]: line.split()[3] for line in listed.splitlines() if line.startswith("│ ")}
    assert rows == {"bobby": "write", "carol": "read"}
    cli("repo", "collaborator", "remove", "alice/app", "carol")
    _, error = cli("repo", "collaborator", "remove", "alice/app", "carol", code=1)
    assert "not a collaborator" in error
    cli("repo", "create", "acme/app")
    _, error = cli("repo", "collaborator", "add", "acme/app", "bobby", code=1)
    assert "through its teams" in error
    _, error = cli("repo", "collaborator", "add", "alice/app", "bobby", "-p", "owner", code=1)
    assert "permission must be one of read, write, admin" in error
