"""What every ``dockyard`` command shares: the console, the --data-dir option, settings, the
data folder's checks, errors as one line, and running account commands against the database."""

from __future__ import annotations

import os
import sys
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
    from dockyard.services import Services

console = Console(stderr=True, soft_wrap=True)  # messages, one line each however long
out = Console()  # results: tables, the token of `token create`

T = TypeVar("T")

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where blobs and the database live [env DOCKYARD_DATA_DIR]",
        readable=False,  # checked with the rest of the folder (datadir.py), in one line
    ),
]


def load_settings(**overrides: Any) -> Settings:
    """CLI options win over DOCKYARD_* variables, which win over defaults."""
    from dockyard.config import ConfigFileMissing

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        console.print("[red]Invalid configuration:[/red]")
        for line in invalid_settings(exc):  # one line per error: the setting, then what is wrong
            console.print(escape(line), highlight=False)
        raise typer.Exit(2) from None
    except ConfigFileMissing as exc:
        console.print(f"[red]Invalid configuration:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


def invalid_settings(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        given = f" (got {error['input']!r})" if error["type"] != "missing" and "input" in error else ""
        lines.append(f"  {where}: {error['msg']}{given}")
    return lines


class DockyardCli(typer.Typer):
    """The command line's edge: an error nobody foresaw is one line and exit status 1, like the
    errors that were foreseen; ``dockyard --debug ...`` (or DOCKYARD_DEBUG=1) shows the traceback."""

    debug = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if self.debug or os.environ.get("DOCKYARD_DEBUG", "") not in ("", "0"):
                raise
            console.print(f"[red]Error:[/red] {escape(describe(exc))}", highlight=False)
            sys.exit(1)


def describe(exc: BaseException) -> str:
    """One line for an unexpected error: what failed and on which file, without the traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    from dockyard.datadir import DataDirError
    from dockyard.server import ListenError

    if isinstance(exc, DataDirError | ListenError):  # foreseen: the message is the whole story
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror.lower()}"
    if isinstance(exc, SQLAlchemyError):
        original = getattr(exc, "orig", None) or exc
        return f"database error: {str(original).splitlines()[0]}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text} (run with --debug for the traceback)"


def prepare_data(settings: Settings, *, create: bool = False) -> None:
    """Check the data folder and bring its schema up to date; ``create`` only for serve and
    migrate, so a mistyped --data-dir never becomes a new, empty instance."""
    from dockyard.datadir import DataDirError
    from dockyard.server import prepare

    try:
        prepare(settings, create=create)
    except DataDirError as exc:
        raise fail(str(exc)) from None


def server_url(settings: Settings) -> str | None:
    """Where the server is reached: DOCKYARD_PUBLIC_URL, else the address the server running on
    this data folder recorded; None when neither is known (a guess would be a made-up URL)."""
    from dockyard.address import recorded

    return settings.public_url or recorded(settings.data_dir)


def unknown_address(settings: Settings) -> str:
    return (
        f"Dockyard's address is not known: no server is running on {settings.data_dir}. "
        "Prefix the paths below with it, or set DOCKYARD_PUBLIC_URL (e.g. https://hub.example.com)."
    )


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


def with_services(data_dir: Path | None, work: Callable[[Services], Awaitable[T]]) -> T:
    """Check the data folder, migrate its database (a no-op when current), then run ``work`` with
    the services (``dockyard/services.py``), closed afterwards.

    SQLite in WAL mode with a busy timeout lets this run beside a serving ``dockyard serve``."""
    from dockyard.services import open_services

    settings = load_settings(data_dir=data_dir)
    prepare_data(settings)
    with open_services(settings) as services, account_errors():
        return anyio.run(work, services)


def with_accounts(data_dir: Path | None, work: Callable[[AccountService], Awaitable[T]]) -> T:
    """``with_services`` for a command that needs only the accounts."""
    return with_services(data_dir, lambda services: work(services.accounts))
