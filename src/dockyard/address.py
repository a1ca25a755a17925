"""Where the running server can be reached, recorded in the data folder for the CLI.

``dockyard serve`` writes ``<data>/server.json`` once its port answers and removes it when it
stops; a command that prints a URL (``dockyard build link``) reads it, so the URL names the port
the server really listens on, not a default. A record whose process is gone (the server was
killed) is stale and ignored. Standard library only: the lean server process imports this.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

RECORD = "server.json"


def record(data_dir: Path, url: str, listen: str) -> None:
    """Say that this process serves ``data_dir`` at ``url`` (written atomically, owner-only)."""
    path = data_dir / RECORD
    temporary = path.with_name(f".{RECORD}.{os.getpid()}")
    body = json.dumps({"url": url, "listen": listen, "pid": os.getpid()}) + "\n"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(body)
    os.replace(temporary, path)


def clear(data_dir: Path) -> None:
    """Remove the record if this process wrote it (another server may share the folder)."""
    path = data_dir / RECORD
    if _read(path).get("pid") == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def recorded(data_dir: Path) -> str | None:
    """The URL of the server running on ``data_dir``, or None when none is (or it was killed)."""
    found = _read(data_dir / RECORD)
    pid, url = found.get("pid"), found.get("url")
    if not isinstance(pid, int) or not isinstance(url, str) or not _alive(pid):
        return None
    return url


def _read(path: Path) -> dict[str, object]:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _alive(pid: int) -> bool:
    """The process exists and is a Dockyard server (a PID reused after a reboot is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, under another user
        pass
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.is_dir():  # no /proc: trust the PID
        return True
    try:
        return b"dockyard" in cmdline.read_bytes()
    except OSError:
        return False
