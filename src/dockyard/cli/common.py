"""What every ``dockyard`` command shares: the console, the --data-dir option, settings,
and running account commands against a migrated database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import anyio
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from dockyard.accounts.errors import AccountError
from dockyard.config import Settings

if TYPE_CHECKING:  # imported when a command runs, so `dockyard --help` stays quick
    from dockyard.accounts.service import AccountService

console = Console(stderr=True, soft_wrap=True)  # messages, one line each however long
out = Console()  # results: tables, the token of `token create`

T = TypeVar("T")

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where blobs and the database live [env DOCKYARD_DATA_DIR]")
]


def load_settings(**overrides: Any) -> Settings:
    """CLI options win over DOCKYARD_* variables, which win over defaults."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        console.print(f"[red]Invalid configuration:[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None


def fail(message: str) -> typer.Exit:
    console.print(f"[red]Error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(1)


@contextmanager
def account_errors() -> Iterator[None]:
    """Domain errors become a red line and exit code 1, never a traceback."""
    try:
        yield
    except AccountError as exc:
        raise fail(exc.message) from None


def with_accounts(data_dir: Path | None, work: Callable[[AccountService], Awaitable[T]]) -> T:
    """Migrate the database (a no-op when current), then run ``work`` against it.

    SQLite in WAL mode with a busy timeout lets this run beside a serving ``dockyard serve``."""
    from dockyard.accounts.service import AccountService
    from dockyard.db.engine import make_database
    from dockyard.server import prepare

    settings = load_settings(data_dir=data_dir)
    prepare(settings)
    database = make_database(settings.resolved_database_url)
    try:
        with account_errors():
            return anyio.run(work, AccountService(database))
    finally:
        database.dispose()
