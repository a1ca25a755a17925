"""``dockyard``: serve the registry and administer it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from dockyard.config import Settings

app = typer.Typer(help="Dockyard: a self-hosted Docker Hub.", no_args_is_help=True)
console = Console(stderr=True)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where blobs and the database live [env DOCKYARD_DATA_DIR]")
]


def load_settings(**overrides: Any) -> Settings:
    """CLI options win over DOCKYARD_* variables, which win over defaults."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        console.print(f"[red]Invalid configuration:[/red]\n{exc}")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [env DOCKYARD_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [env DOCKYARD_PORT]")] = None,
    data_dir: DataDir = None,
    workers: Annotated[int | None, typer.Option(help="Server worker processes")] = None,
    server: Annotated[str | None, typer.Option(help="granian or uvicorn")] = None,
) -> None:
    """Serve the registry and hub until SIGINT or SIGTERM."""
    from dockyard import server as runner

    settings = load_settings(host=host, port=port, data_dir=data_dir, workers=workers, server=server)
    runner.prepare(settings)
    url = f"http://{settings.host}:{settings.port}"
    console.print(f"Dockyard serving on [bold]{url}[/bold] (data in {settings.data_dir})", highlight=False)
    runner.run(settings)
    console.print("Dockyard stopped.")


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Create or upgrade the metadata database."""
    from dockyard.server import prepare

    settings = load_settings(data_dir=data_dir)
    prepare(settings)
    console.print(f"Database at {settings.resolved_database_url} is up to date.")


if __name__ == "__main__":
    app()
