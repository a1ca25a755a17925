"""The account commands: in-process through Typer's runner, and as real `dockyard` subprocesses."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from typer.testing import CliRunner

from dockyard.accounts.service import AccountService
from dockyard.cli.main import app
from dockyard.db.engine import make_database
from tests.conftest import DockyardServer

PAT_RE = re.compile(r"dckr_pat_[A-Za-z0-9_-]{36}")
PASSWORD = "a long enough password"
DOCKYARD = str(Path(sys.executable).parent / "dockyard")


def dockyard(data_dir: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DOCKYARD, *args, "--data-dir", str(data_dir)],
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def migrated(data_dir: Path) -> Path:
    """A new data folder, as `dockyard migrate` makes it: other commands need one to exist."""
    made = dockyard(data_dir, "migrate")
    assert made.returncode == 0, made.stderr
    return data_dir


class Cli:
    """`dockyard ...` in-process, against one data folder (migrated first)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.runner = CliRunner(env={"COLUMNS": "200", "DOCKYARD_DATA_DIR": str(data_dir)})
        self("migrate")

    def __call__(self, *args: str, input: str | None = None, code: int = 0) -> tuple[str, str]:
        result = self.runner.invoke(app, list(args), input=input)
        assert result.exit_code == code, (args, result.stdout, result.stderr, result.exception)
        return result.stdout, result.stderr

    def user(self, name: str, *extra: str) -> None:
        self("user", "create", name, "--password-stdin", *extra, input=PASSWORD + "\n")

    def accounts(self) -> AccountService:
        return AccountService(make_database(f"sqlite:///{self.data_dir / 'dockyard.db'}"))


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "data")


# -- subprocesses: the real executable ---------------------------------------------------------------


def test_user_create_with_password_stdin_and_token_printed_once(tmp_path: Path) -> None:
    data = migrated(tmp_path / "data")
    created = dockyard(data, "user", "create", "alice", "--email", "a@example.com", "--admin",
                       "--password-stdin", input=PASSWORD + "\n")  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "Created administrator alice" in created.stderr

    duplicate = dockyard(data, "user", "create", "alice", "--password-stdin", input=PASSWORD + "\n")
    assert duplicate.returncode == 1
    assert "Error: 'alice' is already taken by a user" in duplicate.stderr
    assert "Traceback" not in duplicate.stderr + duplicate.stdout

    made = dockyard(data, "token", "create", "alice", "--scope", "repo:read", "--label", "ci")
    assert made.returncode == 0, made.stderr
    assert PAT_RE.fullmatch(made.stdout.strip()), made.stdout  # the token, alone on stdout
    assert PAT_RE.findall(made.stderr) == []  # ... and only there, once
    assert "Created access token 1 (ci, repo:read) for alice" in made.stderr
    token = made.stdout.strip()

    accounts = AccountService(make_database(f"sqlite:///{data / 'dockyard.db'}"))
    principal = anyio.run(accounts.authenticate, "alice", token)
    assert principal is not None and principal.token_scopes == {"repo:read"} and principal.is_admin
    assert anyio.run(accounts.authenticate, "alice", PASSWORD) is not None
    accounts.db.dispose()

    listed = dockyard(data, "token", "list", "alice")
    audit = dockyard(data, "audit")
    for shown in (listed, audit):
        assert shown.returncode == 0, shown.stderr
        assert token not in shown.stdout + shown.stderr and PASSWORD not in shown.stdout + shown.stderr
    assert token[:21] in listed.stdout  # the non-secret hint identifies it
    assert "token.created" in audit.stdout and "user.created" in audit.stdout


def test_bad_input_exits_1_without_traceback(tmp_path: Path) -> None:
    data = migrated(tmp_path / "data")
    for args, stdin, message in [
        (("user", "create", "Alice", "--password-stdin"), PASSWORD, "lowercase"),
        (("user", "create", "library", "--password-stdin"), PASSWORD, "reserved"),
        (("user", "create", "bobby", "--password-stdin"), "short", "at least 8"),
        (("org", "create", "acme", "--owner", "nobody"), None, "no user named 'nobody'"),
        (("team", "create", "nowhere", "devs"), None, "no organisation named 'nowhere'"),
    ]:
        result = dockyard(data, *args, input=(stdin + "\n") if stdin else None)
        assert result.returncode == 1, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_commands_work_while_the_server_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with DockyardServer(data) as server:
        args = ("user", "create", "alice", "--admin", "--password-stdin")
        created = dockyard(data, *args, input=PASSWORD + "\n")
        assert created.returncode == 0, created.stderr
        assert dockyard(data, "repo", "create", "alice/app", "--private").returncode == 0
        assert server.running
    log = server.log_path.read_text()
    assert "No users yet. Create the first administrator with:" in log
    assert f"dockyard user create NAME --admin --data-dir {data.resolve()}" in log
    with DockyardServer(data) as again:
        assert again.running
    assert "No users yet" not in again.log_path.read_text().split("Dockyard serving on")[-1]


# -- in-process ------------------------------------------------------------------------------------------


def test_user_create_prompts_twice(cli: Cli) -> None:
    _, err = cli("user", "create", "alice", "--email", "a@example.com", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert "Created user alice" in err
    _, err = cli("user", "create", "bobby", input=f"{PASSWORD}\nmistyped password\n{PASSWORD}\n{PASSWORD}\n")
    assert "do not match" in err and "Created user bobby" in err
    accounts = cli.accounts()
    assert anyio.run(accounts.authenticate, "bobby", PASSWORD) is not None
    accounts.db.dispose()


def test_users_and_admins(cli: Cli) -> None:
    cli.user("alice")
    cli.user("bobby", "--admin")
    out, _ = cli("user", "list")
    assert re.search(r"alice\s.*\n", out) and re.search(r"bobby\s.*yes", out)
    _, err = cli("user", "set-admin", "alice")
    assert "alice is now a site administrator" in err
    _, err = cli("user", "set-admin", "bobby", "--no-admin")
    assert "bobby is no longer a site administrator" in err
    _, err = cli("user", "set-admin", "nobody", code=1)
    assert "no user named 'nobody'" in err
    cli("user", "set-password", "alice", "--password-stdin", input="a new password\n")
    accounts = cli.accounts()
    assert anyio.run(accounts.authenticate, "alice", "a new password") is not None
    accounts.db.dispose()


def test_orgs_teams_and_grants(cli: Cli) -> None:
    cli.user("alice")
    cli.user("bobby")
    _, err = cli("org", "create", "acme", "--owner", "alice")
    assert "Created organisation acme" in err
    cli("team", "create", "acme", "devs", "--description", "Developers")
    _, err = cli("team", "add-member", "acme", "devs", "bobby")
    assert "Added bobby to acme/devs" in err
    _, err = cli("team", "grant", "acme", "devs", "acme/app", "--permission", "write", code=1)
    assert "does not exist" in err and "dockyard repo create acme/app" in err
    _, err = cli("repo", "create", "acme/app", "--private", "--description", "The app")
    assert "Created private repository acme/app" in err
    cli("team", "grant", "acme", "devs", "acme/app", "--permission", "write")
    _, err = cli("team", "grant", "acme", "devs", "acme/app", "--permission", "owner", code=1)
    assert "read, write, admin" in err
    out, _ = cli("team", "list", "acme")
    assert re.search(r"devs\s.*bobby\s.*acme/app: write\s.*Developers", out), out
    assert re.search(r"owners\s.*alice", out)
    accounts = cli.accounts()
    bobby = anyio.run(accounts.principal_for, "bobby")
    assert anyio.run(accounts.repository_actions, bobby, "acme/app") == {"pull", "push"}
    cli("team", "revoke", "acme", "devs", "acme/app")
    assert anyio.run(accounts.repository_actions, bobby, "acme/app") == frozenset()
    cli("team", "remove-member", "acme", "devs", "bobby")
    _, err = cli("team", "remove-member", "acme", "owners", "alice", code=1)
    assert "last owner" in err
    accounts.db.dispose()
    out, _ = cli("org", "list")
    assert "acme" in out


def test_repositories_and_visibility(cli: Cli) -> None:
    cli.user("alice")
    _, err = cli("repo", "create", "alice/open")
    assert "Created public repository alice/open" in err
    cli("repo", "default-visibility", "alice", "--private")
    _, err = cli("repo", "create", "alice/closed")
    assert "Created private repository alice/closed" in err
    _, err = cli("repo", "create", "alice/forced", "--public")
    assert "Created public repository alice/forced" in err
    _, err = cli("repo", "visibility", "alice/open", "--private")
    assert "alice/open is now private" in err
    _, err = cli("repo", "create", "nobody/app", code=1)
    assert "no user or organisation named 'nobody'" in err
    _, err = cli("repo", "create", "alice/Bad", code=1)
    assert "not a valid repository name" in err
    out, _ = cli("repo", "list", "alice")
    assert re.search(r"alice/closed\s.*private", out) and re.search(r"alice/forced\s.*public", out)


def test_tokens(cli: Cli) -> None:
    cli.user("alice")
    out, err = cli("token", "create", "alice", "--scope", "repo:write", "--expires-in-days", "7")
    assert PAT_RE.fullmatch(out.strip()) and "expires 20" in err
    _, err = cli("token", "create", "alice", "--scope", "repo:everything", code=1)
    assert "unknown scope 'repo:everything'" in err
    out, _ = cli("token", "list", "alice")
    assert re.search(r"1\s.*repo:write.*active", out), out
    _, err = cli("token", "revoke", "alice", "1")
    assert "Revoked access token 1" in err
    out, _ = cli("token", "list", "alice")
    assert "revoked" in out
    _, err = cli("token", "revoke", "alice", "9", code=1)
    assert "no access token 9" in err


def test_audit_filters(cli: Cli) -> None:
    cli.user("alice")
    cli("token", "create", "alice", "--scope", "repo:read")
    out, _ = cli("audit", "--kind", "token.created")
    assert "token.created" in out and "user.created" not in out
    out, _ = cli("audit", "--limit", "1")
    assert "token.created" in out and "user.created" not in out


def test_migrate_still_works(cli: Cli) -> None:
    _, err = cli("migrate")
    assert "is up to date" in err
