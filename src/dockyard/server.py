"""Run the ASGI app under a production server chosen in the settings."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

from dockyard.config import Settings
from dockyard.db.engine import upgrade


def settings_env(settings: Settings) -> dict[str, str]:
    """Settings as DOCKYARD_* variables, so worker processes rebuild the same Settings."""
    values = settings.model_dump(mode="json")
    return {f"DOCKYARD_{key.upper()}": str(value) for key, value in values.items()}


SUPERVISOR_ENV = "_DOCKYARD_SUPERVISOR_PID"
PR_SET_PDEATHSIG = 1


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


def prepare(settings: Settings) -> None:
    from dockyard.filemodes import make_private
    from dockyard.secretbox import SecretBox

    make_private(settings)  # first: every file made from here on is the owner's alone
    upgrade(settings.resolved_database_url, secrets=SecretBox.from_settings(settings))


def run(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM; both servers shut down gracefully on either."""
    os.environ.update(settings_env(settings))
    if settings.server == "uvicorn":
        import uvicorn

        uvicorn.run(
            "dockyard.app:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level,
            access_log=False,
            loop="uvloop",
            http="httptools",
        )
        return
    # Start afresh as dockyard.launch: the CLI, migrations and validation stay behind (~60 MB
    # of imports nobody needs while serving). The PID, and so signal handling, is kept.
    os.environ.pop(SUPERVISOR_ENV, None)
    # Few malloc arenas: the blob pipeline's threads otherwise each grow an arena of their own.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "dockyard.launch"])
