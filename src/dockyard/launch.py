"""The server process, exec'd by ``dockyard serve`` once settings are validated and the
database is migrated, so none of the CLI's or Alembic's imports stay resident.

One worker (the default) runs in this very process with granian's embedded server: no
supervisor beside it, so the whole server is one ~125 MB process. With several workers,
this process is granian's lean supervisor (it imports only granian) and the workers it
spawns load the application.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from granian.constants import Interfaces, Loops
from granian.log import LogLevels

SUPERVISOR_ENV = "_DOCKYARD_SUPERVISOR_PID"  # mirrors dockyard.server; kept import-free


def serve_embedded(env: os._Environ[str]) -> None:
    import uvloop
    from granian.server.embed import Server

    from dockyard.app import app_from_env

    async def main() -> None:
        server = Server(
            app_from_env(),
            address=env["DOCKYARD_HOST"],
            port=int(env["DOCKYARD_PORT"]),
            interface=Interfaces.ASGI,
            log_level=LogLevels(env["DOCKYARD_LOG_LEVEL"]),
            backlog=2048,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, server.stop)
        await server.serve()

    uvloop.run(main())


def serve_workers(env: os._Environ[str]) -> None:
    from granian.server import Server

    env[SUPERVISOR_ENV] = str(os.getpid())  # workers die with this process
    Server(
        "dockyard.app:app_from_env",
        address=env["DOCKYARD_HOST"],
        port=int(env["DOCKYARD_PORT"]),
        interface=Interfaces.ASGI,
        workers=int(env["DOCKYARD_WORKERS"]),
        loop=Loops.uvloop,
        factory=True,
        log_level=LogLevels(env["DOCKYARD_LOG_LEVEL"]),
        backlog=2048,
    ).serve()


def main() -> None:
    env = os.environ  # written by dockyard.server.run from validated Settings
    if int(env["DOCKYARD_WORKERS"]) == 1:
        serve_embedded(env)
    else:
        serve_workers(env)
    print("Dockyard stopped.", file=sys.stderr)


if __name__ == "__main__":
    main()
