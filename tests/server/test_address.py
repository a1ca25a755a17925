"""URLs the CLI prints name the server that really runs (issue 9, item 12): `build link` printed
webhook and trigger URLs on port 5000 while the server served on another port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import DockyardServer

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
PASSWORD = "a long enough password"


def dockyard(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DOCKYARD_PORT", "DOCKYARD_PUBLIC_URL")}
    return subprocess.run(
        [DOCKYARD, *args, "--data-dir", str(data)],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "COLUMNS": "200", **env},
        check=False,
    )


# Linking checks the URL's form only; nothing is fetched until a build runs.
SOURCE = "git://git.example.com/alice/app.git"


def link(data: Path, **env: str) -> tuple[dict[str, str], str]:
    made = dockyard(data, "build", "link", "alice/app", SOURCE, **env)
    assert made.returncode == 0, made.stderr
    fields = {}
    for line in made.stdout.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields, made.stderr


def test_build_link_prints_the_address_the_server_runs_on(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with DockyardServer(data) as server:
        assert server.port != 5000
        assert dockyard(data, "user", "create", "alice", "--password-stdin").returncode == 0
        assert dockyard(data, "repo", "create", "alice/app").returncode == 0
        fields, _ = link(data)
        assert fields["github webhook"] == f"{server.url}/api/build/hooks/{fields['link']}/github"
        assert fields["trigger URL"].startswith(f"{server.url}/api/build/trigger/")
        # the printed URL reaches this server, which knows its token (the build then fails later)
        triggered = httpx.post(fields["trigger URL"], timeout=30)
        assert triggered.status_code not in (401, 403, 404), triggered.text


def test_without_a_running_server_the_cli_says_it_does_not_know(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with DockyardServer(data):
        pass  # stopped: its record is gone
    assert dockyard(data, "user", "create", "alice", "--password-stdin").returncode == 0
    assert dockyard(data, "repo", "create", "alice/app").returncode == 0
    fields, err = link(data)
    assert fields["github webhook"] == f"/api/build/hooks/{fields['link']}/github"
    assert "address is not known" in err and "DOCKYARD_PUBLIC_URL" in err
    assert "5000" not in fields["github webhook"] + fields["trigger URL"]
    fields, err = link(data, DOCKYARD_PUBLIC_URL="https://hub.example.com")
    assert fields["github webhook"].startswith("https://hub.example.com/api/build/hooks/") and not err


def test_a_killed_servers_record_is_not_believed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = DockyardServer(data)
    server.start()
    assert dockyard(data, "user", "create", "alice", "--password-stdin").returncode == 0
    assert dockyard(data, "repo", "create", "alice/app").returncode == 0
    server.kill()
    assert (data / "server.json").exists()  # SIGKILL left it behind
    fields, err = link(data)
    assert fields["github webhook"].startswith("/api/") and "address is not known" in err
