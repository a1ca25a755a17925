"""The connection git makes for git:// and ssh sources, checked and pinned (``core.gitProxy``,
ssh's ``ProxyCommand``): ``python -I -m dockyard.builds.relay --expect HOST --port N HOST PORT``.

git and ssh hand us the host and port they want; we connect only when that is the source's own
host and port (a submodule or redirect elsewhere gets nothing), and only to an address the
outbound guard allows, resolved once here and connected to directly. Then bytes are relayed
between the socket and stdin/stdout until either side closes. What we print on refusal is our
own text: nothing the target said.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading

from dockyard import netguard

SETTING = "DOCKYARD_BUILD_ALLOW_PRIVATE_SOURCES"
CONNECT_TIMEOUT = 20.0
CHUNK = 65536


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dockyard.builds.relay")
    parser.add_argument("--expect", required=True, help="the only host this build may connect to")
    parser.add_argument("--port", type=int, required=True, help="the only port")
    parser.add_argument("--allow-private", action="store_true")
    parser.add_argument("host")
    parser.add_argument("target_port", type=int)
    return parser.parse_args(argv)


def _stdin_to(sock: socket.socket) -> None:
    try:
        while chunk := os.read(0, CHUNK):
            sock.sendall(chunk)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    host = args.host.strip("[]").lower().rstrip(".")
    if (host, args.target_port) != (args.expect, args.port):
        print(
            f"dockyard: refused to connect to {host}: only the source's host is fetched from", file=sys.stderr
        )
        return 1
    try:
        address = netguard.resolve_sync(host, args.port, allow_private=args.allow_private, setting=SETTING)
    except netguard.OutboundError as exc:
        print(f"dockyard: {exc}", file=sys.stderr)
        return 1
    try:
        sock = socket.create_connection((str(address), args.port), timeout=CONNECT_TIMEOUT)
    except OSError:
        print(f"dockyard: could not connect to {host} port {args.port}", file=sys.stderr)
        return 1
    sock.settimeout(None)
    threading.Thread(target=_stdin_to, args=(sock,), daemon=True).start()
    try:
        while chunk := sock.recv(CHUNK):
            view = memoryview(chunk)
            while view:
                view = view[os.write(1, view) :]
    except OSError:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
