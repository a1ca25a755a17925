"""A command group that imports a command's module only when that command runs.

Importing every command module costs each ``dockyard`` process ~0.5 s of CPU before it does
anything: the account commands alone pull in SQLAlchemy and the registry's tables. The group
knows each lazy command's name and the modules whose ``register(app)`` adds it; ``dockyard user
create`` imports the account commands, ``dockyard serve`` none of them. Listing the commands
(``dockyard --help``, a mistyped name's suggestions) loads them all, so help reads as before.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, ClassVar

import typer
from typer.core import TyperGroup


class LazyCommands(TyperGroup):
    """``lazy`` maps a command's name to the dockyard.cli modules that register it, in the
    order the help lists them (after the commands the application defines itself)."""

    lazy: ClassVar[dict[str, tuple[str, ...]]] = {}

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            if cmd_name in self.lazy:
                self.commands.update(_load(self.lazy[cmd_name]))
            else:  # a typo, or a command missing from ``lazy``: every name, for the suggestion
                self._load_all()
        return self.commands.get(cmd_name)

    def list_commands(self, ctx: Any) -> list[str]:
        own = [name for name in self.commands if name not in self.lazy]
        self._load_all()
        unlisted = [name for name in self.commands if name not in self.lazy and name not in own]
        return [*own, *self.lazy, *unlisted]

    def _load_all(self) -> None:
        for modules in dict.fromkeys(self.lazy.values()):
            self.commands.update(_load(modules))


_LOADED: dict[tuple[str, ...], dict[str, Any]] = {}
_LOADING = threading.Lock()  # tests run commands in threads


def _load(modules: tuple[str, ...]) -> dict[str, Any]:
    """The click commands ``modules`` register, built once per process: register() adds to
    typer apps that live in the modules, and must not run twice."""
    with _LOADING:
        if modules not in _LOADED:
            holder = typer.Typer()
            for name in modules:
                importlib.import_module(f"dockyard.cli.{name}").register(holder)
            _LOADED[modules] = dict(typer.main.get_group(holder).commands)
        return _LOADED[modules]
