"""The server process, exec'd by ``dockyard serve`` once settings are validated, the port is
bound and the database is migrated, so none of the CLI's or Alembic's imports stay resident.

One worker (the default) runs in this very process with granian's embedded server: no
supervisor beside it, so the whole server is one ~125 MB process. With several workers,
this process is granian's lean supervisor (it imports only granian) and the workers it
spawns load the application.

Both serve the socket ``dockyard serve`` bound (``dockyard.server.listen``), inherited as a file
descriptor: granian would otherwise bind its own with SO_REUSEPORT and share a port that another
server already uses. "Dockyard serving on" is printed once a request really gets an answer, and
only then is the address recorded for the CLI (``dockyard.address``).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from granian.constants import Interfaces, Loops
from granian.log import LogLevels

from dockyard import address

if TYPE_CHECKING:
    from starlette.applications import Starlette

# Mirrors of dockyard.server's names; this module stays free of its imports.
SUPERVISOR_ENV = "_DOCKYARD_SUPERVISOR_PID"
LISTEN_FD_ENV = "_DOCKYARD_LISTEN_FD"
BASE_URL_ENV = "_DOCKYARD_BASE_URL"
BACKLOG = 2048
PR_SET_PDEATHSIG = 1
READY_TIMEOUT = 600.0
PROBE = (
    "GET /v2/ HTTP/1.1\r\nHost: {host}\r\nUser-Agent: dockyard-serve (start-up check)\r\n"
    "Connection: close\r\n\r\n"
)


class QuietGranian(logging.Filter):
    """Drops granian's notices that are about granian, not Dockyard ("Embedded server is
    experimental!"): Dockyard chose the embedded server knowingly and tests it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "experimental" not in record.getMessage()


def logging_config(level: str, *, uvicorn: bool = False) -> dict[str, Any]:
    """The server's logging: the access log's lines as they are, everything else with its level,
    all on stderr. granian's own start-up chatter shows only at debug level."""
    server_level = "DEBUG" if level == "debug" else "WARNING"
    loggers: dict[str, Any] = {
        "_granian": {"handlers": ["console"], "level": server_level, "propagate": False},
        "granian.access": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "dockyard.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    }
    if uvicorn:
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            loggers[name] = {"handlers": ["console"], "level": server_level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"quiet": {"()": QuietGranian}},
        "formatters": {
            "generic": {"format": "[%(levelname)s] %(message)s"},
            "access": {"format": "%(message)s"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "generic",
                "stream": "ext://sys.stderr",
                "filters": ["quiet"],
            },
            "access": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stderr"},
        },
        "loggers": loggers,
    }


class Announcer(threading.Thread):
    """Waits until a request to the server gets an answer, then says so and records the address.

    The socket accepts connections from the moment it is bound, long before the application has
    loaded, so only an HTTP answer proves the server serves."""

    def __init__(self, env: os._Environ[str] | dict[str, str]) -> None:
        super().__init__(name="dockyard-announcer", daemon=True)
        self.host = env["DOCKYARD_HOST"]
        self.port = int(env["DOCKYARD_PORT"])
        self.data_dir = Path(env["DOCKYARD_DATA_DIR"])
        self.base_url = env.get(BASE_URL_ENV) or f"http://{_url_host(self.host)}:{self.port}"
        self.recorded = False

    def run(self) -> None:
        if not self._wait_for_an_answer():
            return
        try:
            address.record(self.data_dir, self.base_url, f"{self.host}:{self.port}")
            self.recorded = True
        except OSError as exc:
            print(f"Cannot record the server's address in {self.data_dir}: {exc}", file=sys.stderr)
        url = f"http://{_url_host(self.host)}:{self.port}"
        print(f"Dockyard serving on {url} (data in {self.data_dir})", file=sys.stderr, flush=True)

    def stopped(self) -> None:
        address.clear(self.data_dir)

    def _wait_for_an_answer(self) -> bool:
        target = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        request = PROBE.format(host=f"{_url_host(target)}:{self.port}").encode()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((target, self.port), timeout=30) as probe:
                    probe.sendall(request)
                    if probe.recv(5) == b"HTTP/":
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _inherited_socket(env: os._Environ[str]) -> Any:
    """granian's holder for the socket ``dockyard serve`` bound (no SO_REUSEPORT)."""
    from granian._granian import SocketHolder

    return SocketHolder(int(env[LISTEN_FD_ENV]), False, BACKLOG)  # type: ignore[call-arg]


class _OwnSocket:
    """Serve the inherited socket instead of building one: granian's hook for sockets made
    elsewhere (the holder it uses where SO_REUSEPORT does not exist). Pinned granian version."""

    holder: Any = None
    _ssp: Any
    _shd: Any
    _sfd: Any

    def _init_shared_socket(self) -> None:
        self._ssp = None
        self._shd = self.holder
        self._sfd = self.holder.get_fd()


def serve_embedded(env: os._Environ[str]) -> None:
    import uvloop
    from granian.server.embed import Server

    class OwnSocketServer(_OwnSocket, Server):
        holder = _inherited_socket(env)

    async def main() -> None:
        from dockyard.datadir import say_first_administrator_hint

        app = app_from_env()
        say_first_administrator_hint(app.state.settings)  # after the app: its imports are the hint's
        server = OwnSocketServer(
            app,
            address=env["DOCKYARD_HOST"],
            port=int(env["DOCKYARD_PORT"]),
            interface=Interfaces.ASGI,
            log_level=_granian_level(env),
            log_dictconfig=logging_config(env["DOCKYARD_LOG_LEVEL"]),
            backlog=BACKLOG,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, server.stop)
        await server.serve()

    uvloop.run(main())


def serve_workers(env: os._Environ[str]) -> None:
    from granian.server import MPServer  # a GIL build, as the pinned CPython is

    class OwnSocketServer(_OwnSocket, MPServer):
        holder = _inherited_socket(env)

        def _init_shared_socket(self) -> None:
            super()._init_shared_socket()
            self._sso = None  # granian's Windows-only copy of the socket; the fd is inherited by fork

    env[SUPERVISOR_ENV] = str(os.getpid())  # workers die with this process
    OwnSocketServer(
        "dockyard.launch:app_from_env",
        address=env["DOCKYARD_HOST"],
        port=int(env["DOCKYARD_PORT"]),
        interface=Interfaces.ASGI,
        workers=int(env["DOCKYARD_WORKERS"]),
        loop=Loops.uvloop,
        factory=True,
        log_level=_granian_level(env),
        log_dictconfig=logging_config(env["DOCKYARD_LOG_LEVEL"]),
        backlog=BACKLOG,
    ).serve()


def bind_to_supervisor() -> None:
    """In a worker process: die with the supervisor, even when it is SIGKILLed.

    Otherwise a killed ``dockyard serve`` leaves its workers holding the port.
    """
    supervisor = os.environ.get(SUPERVISOR_ENV)
    if supervisor is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if str(os.getppid()) != supervisor:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def app_from_env() -> Starlette:
    """Entry point for server worker processes: settings come from DOCKYARD_* variables."""
    from dockyard.app import create_app
    from dockyard.config import Settings

    bind_to_supervisor()
    return create_app(Settings())


def _granian_level(env: os._Environ[str]) -> LogLevels:
    return LogLevels.debug if env["DOCKYARD_LOG_LEVEL"] == "debug" else LogLevels.warning


def main() -> None:
    env = os.environ  # written by dockyard.server.run from validated Settings
    announcer = Announcer(env)
    announcer.start()
    try:
        if int(env["DOCKYARD_WORKERS"]) == 1:
            serve_embedded(env)
        else:
            serve_workers(env)
    finally:
        announcer.stopped()
    print("Dockyard stopped.", file=sys.stderr)


if __name__ == "__main__":
    main()
