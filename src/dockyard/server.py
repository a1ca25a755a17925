"""Run the ASGI app under a production server chosen in the settings.

``dockyard serve`` binds the port itself before anything else (``listen``), so a port that is
taken fails at once with one line. granian would bind with SO_REUSEPORT, which lets a second
server share a port already in use: two instances with different data would answer in turn.
The socket made here has no SO_REUSEPORT, and the server process is handed that very socket.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys

from dockyard import datadir
from dockyard.config import Settings

SUPERVISOR_ENV = "_DOCKYARD_SUPERVISOR_PID"
LISTEN_FD_ENV = "_DOCKYARD_LISTEN_FD"  # the bound socket, inherited across exec
BASE_URL_ENV = "_DOCKYARD_BASE_URL"  # what the server records for the CLI once it answers
BACKLOG = 2048


class ListenError(Exception):
    """The address cannot be listened on; ``str()`` is the one line the user sees."""


def settings_env(settings: Settings) -> dict[str, str]:
    """Settings as DOCKYARD_* variables, so worker processes rebuild the same Settings."""
    values = settings.model_dump(mode="json", exclude={"builds"})
    env = {f"DOCKYARD_{key.upper()}": str(value) for key, value in values.items()}
    builds = settings.builds.model_dump(mode="json")
    return env | {f"DOCKYARD_BUILD_{key.upper()}": str(value) for key, value in builds.items()}


def prepare(settings: Settings, *, create: bool = False) -> None:
    """Make sure the data folder is usable and the schema current. Only ``serve`` and
    ``migrate`` pass ``create``: any other command on a folder without data is a typo, and
    fails (``datadir.DataDirError``) instead of starting a new, empty instance there."""
    datadir.prepare(settings, create=create)


def listen(settings: Settings) -> socket.socket:
    """A listening socket on host:port, without SO_REUSEPORT, inheritable by the server process."""
    where = f"{settings.host}:{settings.port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            settings.host or None, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {where}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        # SO_REUSEADDR only lets a restart bind over connections in TIME_WAIT; on Linux it
        # never lets two sockets listen on one port (SO_REUSEPORT would).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise ListenError(f"cannot listen on {where}: {reason.lower()}") from None
    sock.set_inheritable(True)
    return sock


def run(settings: Settings, listener: socket.socket) -> None:
    """Serve on ``listener`` until SIGINT/SIGTERM; both servers shut down gracefully on either."""
    os.environ.update(settings_env(settings))
    os.environ[BASE_URL_ENV] = settings.base_url
    from dockyard.metrics import multiprocess_metrics  # prometheus-client: the server's, not the CLI's

    # Several workers: before any of them imports prometheus-client, a directory where each writes
    # its metrics (dockyard/metrics.py); one worker keeps them in memory.
    multiprocess_metrics(settings.workers)
    if settings.server == "uvicorn" or settings.workers > 1:
        # How to make the first user, if need be; one embedded worker says it itself, once its
        # application has loaded what the question needs (dockyard.launch).
        datadir.say_first_administrator_hint(settings)
    if settings.server == "uvicorn":
        _run_uvicorn(settings, listener)
        return
    # Start afresh as dockyard.launch: the CLI, migrations and validation stay behind (~60 MB
    # of imports nobody needs while serving). The PID, and so signal handling, is kept.
    os.environ.pop(SUPERVISOR_ENV, None)
    os.environ[LISTEN_FD_ENV] = str(listener.fileno())
    # Few malloc arenas: the blob pipeline's threads otherwise each grow an arena of their own.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "dockyard.launch"])


def _run_uvicorn(settings: Settings, listener: socket.socket) -> None:
    import uvicorn

    from dockyard import launch

    announcer = launch.Announcer(os.environ)
    announcer.start()
    # uvicorn shuts down gracefully, then raises the signal again for the handler it found: a
    # no-op one lets this function go on to remove the address record and say it stopped.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    try:
        uvicorn.run(
            "dockyard.launch:app_from_env",
            factory=True,
            fd=listener.fileno(),
            workers=settings.workers,
            log_config=launch.logging_config(settings.log_level, uvicorn=True),
            access_log=False,
            loop="uvloop",
            http="httptools",
        )
    finally:
        announcer.stopped()
    print("Dockyard stopped.", file=sys.stderr)
