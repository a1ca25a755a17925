"""Settings from a TOML file (--config / DOCKYARD_CONFIG) beside the environment, and
`dockyard config check`: effective settings with secrets masked, one line per invalid setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dockyard.cli.main import app
from dockyard.config import CONFIG_ENV, Settings

TOML = """
port = 5999
gc_grace_seconds = 60
database_url = "postgresql://dock:hunter2@db.example/dockyard"

[builds]
concurrency = 4
"""


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    # DOCKYARD_CONFIG in the runner's env: restored after each run, so --config leaks into no later test
    result = CliRunner(env={"COLUMNS": "200", CONFIG_ENV: "", **(env or {})}).invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def test_the_file_fills_in_what_the_environment_does_not_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "dockyard.toml"
    config.write_text(TOML)
    monkeypatch.setenv(CONFIG_ENV, str(config))
    monkeypatch.setenv("DOCKYARD_GC_GRACE_SECONDS", "5")
    settings = Settings(port=6001)
    assert (settings.port, settings.gc_grace_seconds, settings.builds.concurrency) == (6001, 5.0, 4)
    assert Settings().port == 5999  # the file, where neither a flag nor the environment says


def test_config_check_prints_the_effective_settings_with_secrets_masked(tmp_path: Path) -> None:
    config = tmp_path / "dockyard.toml"
    config.write_text(TOML)
    env = {"DOCKYARD_PORT": "6002", "DOCKYARD_S3_SECRET_ACCESS_KEY": "s3-Secret-0123456789"}
    code, output = run("--config", str(config), "config", "check", env=env)
    assert code == 0, output
    assert 's3_secret_access_key = "***"' in output and "s3-Secret-0123456789" not in output
    assert "port = 6002" in output and "gc_grace_seconds = 60.0" in output
    assert 'database_url = "postgresql://dock:***@db.example/dockyard"' in output
    assert "hunter2" not in output
    assert "[builds]" in output and "concurrency = 4" in output


def test_invalid_settings_are_one_line_each_and_a_missing_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('port = "x"\nnope = 1\n')
    code, output = run("--config", str(config), "config", "check")
    assert code == 2
    assert "  port: Input should be a valid integer, unable to parse string as an integer (got 'x')" in output
    assert "  nope: Extra inputs are not permitted (got 1)" in output
    assert "Traceback" not in output
    code, output = run("--config", str(tmp_path / "none.toml"), "config", "check")
    assert code == 2 and f"configuration file {tmp_path / 'none.toml'} not found" in output
