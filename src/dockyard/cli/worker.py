"""``dockyard worker``: background work out of the web process, by role.

    dockyard worker                          every role (events, builds, webhooks, janitor)
    dockyard worker --role webhooks,janitor  only these

Any number of workers may run beside any number of ``dockyard serve`` processes on one database
and data folder: events are claimed in a write transaction, builds and webhook deliveries are
leased rows, the janitor's deletes are idempotent. Run the web processes with
DOCKYARD_BACKGROUND=none to leave all of it to workers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from dockyard.background import ROLES
from dockyard.cli.common import DataDir, console, fail, load_settings, prepare_data

if TYPE_CHECKING:
    from dockyard.background import BackgroundTask
    from dockyard.clock import Clock


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)


def worker(
    role: Annotated[
        str, typer.Option(help=f"Roles to run, comma-separated: all, or some of {', '.join(ROLES)}")
    ] = "all",
    data_dir: DataDir = None,
    port: Annotated[
        int | None, typer.Option(help="Port of the Dockyard builds push to [env DOCKYARD_PORT]")
    ] = None,
) -> None:
    """Run background work (builds, webhook delivery, clean-up) until SIGINT or SIGTERM."""
    import logging
    import sys

    import anyio

    from dockyard.background import UnknownRole, parse_roles
    from dockyard.services import open_services

    try:
        roles = parse_roles(role)
    except UnknownRole as exc:
        raise fail(str(exc)) from None
    if not roles:
        raise fail("no role to run: name at least one of " + ", ".join(ROLES))
    settings = load_settings(data_dir=data_dir, port=port)
    prepare_data(settings)
    logging.basicConfig(
        level=settings.log_level.upper(), format="[%(levelname)s] %(name)s: %(message)s", stream=sys.stderr
    )
    with open_services(settings) as services:
        tasks = services.background(roles)
        names = ", ".join(sorted(roles))
        console.print(f"Worker started: {names} (data in {settings.data_dir}).", highlight=False)
        anyio.run(_until_signal, tasks, services.clock)
    console.print("Worker stopped.")


async def _until_signal(tasks: list[BackgroundTask], clock: Clock) -> None:
    import signal

    import anyio

    from dockyard.background import running

    async with running(tasks, clock):
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                return
