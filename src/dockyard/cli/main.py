"""``dockyard``: serve the registry and administer it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from dockyard.cli.common import DataDir, DockyardCli, console, fail, load_settings, prepare_data
from dockyard.cli.lazy import LazyCommands
from dockyard.config import CONFIG_ENV

ACCOUNTS = ("accounts", "ops")  # ops adds its commands to the repo group of accounts
# Every command but serve and migrate, in the order `dockyard --help` lists them, with the modules
# (dockyard.cli.*) whose register() adds it. A command imports only its own modules, and they
# import the services they use: `dockyard serve` imports no account, build or proxy command.
COMMANDS = {
    "audit": ACCOUNTS,
    "gc": ACCOUNTS,
    "worker": ("worker",),
    "user": ACCOUNTS,
    "org": ACCOUNTS,
    "team": ACCOUNTS,
    "token": ACCOUNTS,
    "repo": ACCOUNTS,
    "build": ("builds",),
    "proxy": ("proxy",),
    "quota": ACCOUNTS,
    "retention": ACCOUNTS,
    "config": ("configcheck",),
}


class Commands(LazyCommands):
    lazy = COMMANDS


app = DockyardCli(help="Dockyard: a self-hosted Docker Hub.", no_args_is_help=True, cls=Commands)


@app.callback()
def options(
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an unexpected error")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="A TOML file of settings [env DOCKYARD_CONFIG]")
    ] = None,
) -> None:
    app.debug = debug
    if config is not None:  # read by Settings wherever a command makes them; the server inherits it
        os.environ[CONFIG_ENV] = str(config.expanduser().resolve())


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [env DOCKYARD_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [env DOCKYARD_PORT]")] = None,
    data_dir: DataDir = None,
    workers: Annotated[int | None, typer.Option(help="Server worker processes")] = None,
    server: Annotated[str | None, typer.Option(help="granian or uvicorn")] = None,
) -> None:
    """Serve the registry and hub until SIGINT or SIGTERM.

    The port is bound first: one in use fails at once. "Dockyard serving on URL" follows once
    the server answers requests."""
    from dockyard import server as runner

    settings = load_settings(host=host, port=port, data_dir=data_dir, workers=workers, server=server)
    try:
        listener = runner.listen(settings)
    except runner.ListenError as exc:
        raise fail(str(exc)) from None
    prepare_data(settings, create=True)
    runner.run(settings, listener)


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Create or upgrade the metadata database."""
    settings = load_settings(data_dir=data_dir)
    prepare_data(settings, create=True)
    console.print(f"Database at {settings.resolved_database_url} is up to date.")


if __name__ == "__main__":
    app()
