"""Dockyard: a self-hosted Docker Hub."""

import sys

__version__ = "0.1.0"

# httpx's package imports its command-line client (click, rich, pygments: ~0.15 s of CPU) whenever
# those are installed, and Typer installs them. Dockyard never runs that client; a None entry makes
# ``from ._main import main`` fail, and httpx defines its stand-in instead. Every process that
# imports httpx (the server, every CLI command) starts that much sooner.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
