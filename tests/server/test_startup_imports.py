"""What a Dockyard process imports to start (issue 10, item 7: CI time). Most tests run
``dockyard ...`` as a subprocess, so each import that a command does not need costs the suite
seconds of CPU: these tests keep the cuts from growing back.

- ``dockyard serve`` and light commands import no account, build or proxy command and no web app
  (the lazy command group, dockyard/cli/lazy.py);
- a data folder whose database is current is checked without Alembic (migrations.history());
- the served application imports no command-line libraries (typer, rich, click).
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from dockyard import datadir, migrations
from dockyard.config import Settings
from dockyard.migrations import History, alembic_config

DUMP = "import json, sys\nprint(json.dumps(sorted(m for m, v in sys.modules.items() if v is not None)))"
HEAVY = ("fastapi", "dockyard.web", "dockyard.app", "dockyard.services", "alembic", "httpx")
OTHER_COMMANDS = ("dockyard.cli.accounts", "dockyard.cli.builds", "dockyard.cli.proxy", "dockyard.cli.ops")


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\n{DUMP}"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def loaded(modules: set[str], *packages: str) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(f"{p}.") for p in packages))


def test_the_cheap_history_agrees_with_alembic() -> None:
    """A new migration, or one re-chained when branches merge, cannot make a current database
    look old (an upgrade each start) or an old one current (no upgrade at all)."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert migrations.history() == History(
        frozenset(script.revision for script in scripts.walk_revisions()), scripts.get_current_head() or ""
    )


def test_a_history_that_is_not_one_line_is_left_to_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "0001_a.py").write_text('revision = "0001"\ndown_revision = None\n')
    (versions / "0002_b.py").write_text('revision = "0002"\ndown_revision = "0001"\n')
    monkeypatch.setattr(migrations, "MIGRATIONS", tmp_path)
    assert migrations.history() == History(frozenset({"0001", "0002"}), "0002")
    (versions / "0003_c.py").write_text('revision = "0003"\ndown_revision = "0001"\n')  # a branch
    assert migrations.history() is None
    (versions / "0003_c.py").write_text('revision = "0003"\ndown_revision = ("0001", "0002")\n')  # a merge
    assert migrations.history() is None


def test_an_old_database_is_still_upgraded(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    url = migrations.sync_url(settings.resolved_database_url)
    head = migrations.history()
    assert head is not None
    previous = ScriptDirectory.from_config(alembic_config(url)).get_revision(head.head).down_revision
    assert isinstance(previous, str)
    tmp_path.chmod(0o700)
    command.upgrade(alembic_config(url), previous)

    datadir.prepare(settings, create=False)

    with sqlite3.connect(tmp_path / datadir.DATABASE) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(head.head,)]


def test_a_current_database_is_checked_without_alembic(tmp_path: Path) -> None:
    datadir.prepare(Settings(data_dir=tmp_path), create=True)
    modules = modules_after(
        "from dockyard import datadir\nfrom dockyard.config import Settings\n"
        f"datadir.prepare(Settings(data_dir={str(tmp_path)!r}), create=False)"
    )
    assert loaded(modules, "alembic") == []


def test_serve_imports_only_what_it_needs_before_the_server_starts(tmp_path: Path) -> None:
    """``dockyard serve`` on a current data folder, up to the exec of dockyard.launch."""
    datadir.prepare(Settings(data_dir=tmp_path), create=True)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    modules = modules_after(
        "import os\n"
        f"def stop(*args):\n    {DUMP.replace(chr(10), '; ')}; sys.stdout.flush(); os._exit(0)\n"
        "os.execv = stop\n"
        "from dockyard.cli.main import app\n"
        f"app(['serve', '--data-dir', {str(tmp_path)!r}, '--port', '{port}', '--host', '127.0.0.1'])"
    )
    assert "dockyard.server" in modules
    assert loaded(modules, *HEAVY, *OTHER_COMMANDS, "dockyard.accounts.readmodels", "dockyard.registry") == []


def test_a_light_command_imports_only_its_own_module() -> None:
    check = modules_after(
        "from dockyard.cli.main import app\ntry:\n    app(['config', 'check'])\nexcept SystemExit:\n    pass"
    )
    assert "dockyard.cli.configcheck" in check
    assert loaded(check, *HEAVY, *OTHER_COMMANDS) == []


def test_the_served_application_imports_no_command_line_libraries() -> None:
    """typer, rich and click came in through httpx's own command-line client (dockyard/__init__.py);
    markdown-it is imported by the first description rendered (hub/markdown.py)."""
    served = modules_after("import dockyard.app")
    assert loaded(served, "typer", "rich", "click", "pygments", "alembic", "markdown_it") == []
