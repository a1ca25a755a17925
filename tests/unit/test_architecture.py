"""The architecture contract (pyproject's [tool.importlinter]) holds, and it can fail: a copy of the
package with one import from a lower layer into a higher one breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "dockyard"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """src/dockyard and pyproject.toml (the contract) copied to a folder of their own."""
    shutil.copytree(PACKAGE, tmp_path / "dockyard", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def lint(where: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the package found first on PYTHONPATH: the copy, not the installed one."""
    env = {**os.environ, "PYTHONPATH": str(where)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_package_keeps_the_contract(copy: Path) -> None:
    result = lint(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_a_lower_layer_importing_a_higher_one_breaks_it(copy: Path) -> None:
    store = copy / "dockyard" / "registry" / "store.py"
    store.write_text(store.read_text() + "\nfrom dockyard.web import context as _web  # noqa\n")
    result = lint(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Layers: lower layers never import higher ones BROKEN" in result.stdout
    assert "dockyard.registry.store -> dockyard.web.context" in result.stdout
