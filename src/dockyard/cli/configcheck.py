"""``dockyard config check``: validate the settings (flags, DOCKYARD_*, the --config TOML file)
and print the effective ones, secrets masked."""

from __future__ import annotations

import json
import re
from typing import Any

import typer

from dockyard.cli.common import DataDir, load_settings, out

config_app = typer.Typer(help="The settings Dockyard runs with.", no_args_is_help=True)
# Values never printed whole: a password inside a URL, and any setting named like a secret
# (DOCKYARD_S3_SECRET_ACCESS_KEY among them); a *_file setting is a path, printed as it is.
URL_PASSWORD = re.compile(r"(?<=://)([^:/@]*):[^@/]*@")
SECRET_NAMES = ("password", "secret", "private_key")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")


@config_app.command("check")
def check(data_dir: DataDir = None) -> None:
    """Validate the settings (one line per error) and print the effective ones, secrets masked."""
    settings = load_settings(data_dir=data_dir)
    values = settings.model_dump(mode="json", exclude={"builds"})
    for key, value in sorted(values.items()):
        out.print(f"{key} = {_toml(key, value)}", highlight=False, markup=False)
    out.print("\n[builds]", highlight=False, markup=False)
    for key, value in sorted(settings.builds.model_dump(mode="json").items()):
        out.print(f"{key} = {_toml(key, value)}", highlight=False, markup=False)


def _toml(key: str, value: Any) -> str:
    if isinstance(value, str):
        value = URL_PASSWORD.sub(r"\1:***@", value)
        if value and any(name in key for name in SECRET_NAMES) and not key.endswith("_file"):
            value = "***"
    return json.dumps(value)
