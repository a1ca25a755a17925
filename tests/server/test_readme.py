"""The README's first commands, run literally on a fresh data folder (issue 9, item 11).

`make serve` runs `dockyard serve --host 127.0.0.1 --port 5000 --data-dir ./dockyard-data` (the
Makefile's recipe; the server here gets a free port); every `.venv/bin/dockyard ...` line of the
README's shell blocks then runs as written, from the folder `make serve` ran in, with this venv's
executable and the password typed on stdin.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import DockyardServer

README = Path(__file__).resolve().parents[2] / "README.md"
MAKEFILE = README.with_name("Makefile")
PASSWORD = "a long enough password"


def readme_dockyard_commands() -> list[list[str]]:
    """Every `.venv/bin/dockyard` command of the README's sh blocks, without trailing comments."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.DOTALL)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            if line.startswith(".venv/bin/dockyard "):
                commands.append(shlex.split(line, comments=True))
    return commands


def test_make_serve_runs_dockyard_serve_on_dockyard_data() -> None:
    recipe = re.search(r"^serve:.*\n\t(.*)$", MAKEFILE.read_text(), flags=re.MULTILINE)
    assert recipe is not None
    assert recipe.group(1).split()[:2] == ["$(VENV)/bin/dockyard", "serve"]
    assert "DOCKYARD_DATA_DIR ?= ./dockyard-data" in MAKEFILE.read_text()


def test_the_readme_commands_work_on_a_fresh_data_folder(tmp_path: Path) -> None:
    commands = readme_dockyard_commands()
    first = commands[0]
    assert first[1:4] == ["user", "create", first[3]] and "--admin" in first, first
    executable = str(Path(sys.executable).parent / "dockyard")
    with DockyardServer(tmp_path / "dockyard-data") as server:  # what `make serve` runs
        assert f"dockyard user create NAME --admin --data-dir {tmp_path / 'dockyard-data'}" in (
            server.log_path.read_text()
        )
        for command in commands:
            result = subprocess.run(
                [executable, *command[1:]],
                cwd=tmp_path,
                input=f"{PASSWORD}\n{PASSWORD}\n",  # the password prompt and its confirmation
                capture_output=True,
                text=True,
                timeout=120,
                start_new_session=True,  # no terminal: the prompt reads stdin
                env={**os.environ, "COLUMNS": "200"},
                check=False,
            )
            assert result.returncode == 0, f"$ {shlex.join(command)}\n{result.stderr}"
            assert "Created" in result.stderr, result.stderr
        admin = first[3]
        login = httpx.get(
            f"{server.url}/token", params={"service": "dockyard", "scope": "registry:catalog:*"},
            auth=(admin, PASSWORD), timeout=30,
        )  # fmt: skip
        assert login.status_code == 200, login.text
