"""A mistyped or unusable --data-dir (issue 9, item 13): one line and a non-zero exit, never a new
empty instance and never a traceback (unless --debug asks for it)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
COMMANDS = [
    ("user", "list"),
    ("user", "create", "alice", "--password-stdin"),
    ("org", "list"),
    ("repo", "create", "alice/app"),
    ("token", "list", "alice"),
    ("audit",),
    ("build", "list", "alice/app"),
]


def dockyard(
    *args: str, user: int | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user is not None else []
    return subprocess.run(
        [*prefix, DOCKYARD, *args],
        input="a long enough password\n",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    assert result.stdout == "", result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    assert dockyard("migrate", "--data-dir", str(data)).returncode == 0
    return data


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_mistyped_data_dir_is_one_line_and_creates_nothing(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    typo = tmp_path / "dockyard-dat"
    line = one_line(dockyard(*command, "--data-dir", str(typo)))
    assert line == f"Error: no Dockyard data at {typo}; run dockyard serve or dockyard migrate first"
    assert not typo.exists()


def test_an_existing_folder_without_data_is_not_an_instance(tmp_path: Path) -> None:
    """A typo that names an existing folder (a home directory, say) gets nothing written into it."""
    line = one_line(dockyard("user", "list", "--data-dir", str(tmp_path)))
    assert line.startswith(f"Error: no Dockyard data at {tmp_path};")
    assert list(tmp_path.iterdir()) == []


def test_migrate_and_serve_still_create_a_new_instance(tmp_path: Path) -> None:
    made = dockyard("migrate", "--data-dir", str(tmp_path / "new"))
    assert made.returncode == 0 and (tmp_path / "new" / "dockyard.db").is_file()
    assert dockyard("user", "list", "--data-dir", str(tmp_path / "new")).returncode == 0


def test_a_file_is_one_line(tmp_path: Path) -> None:
    file = tmp_path / "data"
    file.write_text("not a folder")
    for command in (("user", "list"), ("migrate",), ("serve", "--port", "1")):
        assert one_line(dockyard(*command, "--data-dir", str(file))) == (
            f"Error: {file} is a file, not a data folder"
        )


def test_a_database_from_a_newer_dockyard_is_one_line_and_left_alone(migrated: Path) -> None:
    with sqlite3.connect(migrated / "dockyard.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0999'")
    line = one_line(dockyard("user", "list", "--data-dir", str(migrated)))
    assert "schema version 0999, from a newer Dockyard" in line
    with sqlite3.connect(migrated / "dockyard.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [("0999",)]


def test_a_damaged_database_is_one_line(migrated: Path) -> None:
    (migrated / "dockyard.db").write_bytes(b"this is not SQLite" * 100)
    for name in ("dockyard.db-wal", "dockyard.db-shm"):
        (migrated / name).unlink(missing_ok=True)
    line = one_line(dockyard("user", "list", "--data-dir", str(migrated)))
    assert line.startswith("Error: cannot use") and "not a database" in line


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_a_folder_of_another_user_is_one_line(migrated: Path) -> None:
    """Run as nobody on root's data: unreachable (its parent is 0700), not writable (0755), not
    readable (0700)."""
    line = one_line(dockyard("user", "list", "--data-dir", str(migrated), user=65534))
    assert line == f"Error: {migrated} cannot be reached by this user (uid 65534): permission denied"
    with tempfile.TemporaryDirectory() as parent:
        Path(parent).chmod(0o755)
        data = Path(parent) / "data"
        shutil.copytree(migrated, data)
        for mode in (0o755, 0o700):
            data.chmod(mode)
            line = one_line(dockyard("user", "list", "--data-dir", str(data), user=65534))
            assert line == f"Error: {data} is not readable and writable by this user (uid 65534)"


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(migrated: Path) -> None:
    broken = {"DOCKYARD_DATABASE_URL": "mysql://localhost/dockyard"}  # a driver that is not installed
    line = one_line(dockyard("user", "list", "--data-dir", str(migrated), env=broken))
    assert line.startswith("Error: ") and "--debug" in line
    debug = dockyard("--debug", "user", "list", "--data-dir", str(migrated), env=broken)
    assert debug.returncode != 0 and "Traceback" in debug.stderr
