"""X-Forwarded-For and the per-address defences (issue 9, item 14).

Threat: the login throttle, the pull rate limits and the audit log key on the client's address.
A client that could choose its address (by sending X-Forwarded-For) would get a fresh allowance
per request; a proxy that everyone's requests pass through would make everyone one client, so
one attacker's lockout would lock everybody out. DOCKYARD_TRUSTED_PROXIES says which peers'
X-Forwarded-For is believed; nobody's by default.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.access.helpers import cli_here
from tests.conftest import DockyardServer
from tests.server.test_serve import PLAIN_LINE, _wait_for

PASSWORD = "a long enough password"
THROTTLE = {"DOCKYARD_LOGIN_IP_MAX_FAILURES": "3", "DOCKYARD_LOGIN_MAX_FAILURES": "50"}


def login(server: DockyardServer, user: str, password: str, forwarded_for: str | None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return httpx.get(
        f"{server.url}/token",
        params={"service": "dockyard", "scope": "registry:catalog:*"},
        auth=(user, password),
        headers=headers,
        timeout=30,
    )


def create_user(server: DockyardServer, name: str) -> None:
    cli_here(server.data_dir, "user", "create", name, "--password-stdin", input=PASSWORD + "\n")


def test_a_forged_x_forwarded_for_does_not_escape_the_ip_lockout(tmp_path: Path) -> None:
    """Without trusted proxies the header is ignored: rotating it buys no new attempts."""
    with DockyardServer(tmp_path / "data", env=THROTTLE) as server:
        for n in range(3):
            assert login(server, f"guess{n}", "wrong", f"198.51.100.{n}").status_code == 401
        locked = login(server, "guess9", "wrong", "198.51.100.99")
        assert locked.status_code == 429, locked.text


def test_behind_a_trusted_proxy_each_client_has_its_own_lockout(tmp_path: Path) -> None:
    """One client guessing passwords through the proxy does not lock out the proxy's other clients,
    and the audit log and access log name the client, not the proxy."""
    env = {**THROTTLE, "DOCKYARD_TRUSTED_PROXIES": "127.0.0.1"}
    with DockyardServer(tmp_path / "data", env=env) as server:
        create_user(server, "alice")
        for n in range(3):
            assert login(server, f"guess{n}", "wrong", "203.0.113.66").status_code == 401
        assert login(server, "guess9", "wrong", "203.0.113.66").status_code == 429
        allowed = login(server, "alice", PASSWORD, "198.51.100.7")
        assert allowed.status_code == 200, allowed.text
        request_id = allowed.headers["x-request-id"]

        def logged() -> str | None:
            for line in server.log_path.read_text().splitlines():
                if line.endswith(request_id):
                    return line
            return None

        found = PLAIN_LINE.match(_wait_for(logged))
        assert found is not None and found["client"] == "198.51.100.7"
        audit = cli_here(server.data_dir, "audit", "--kind", "login.failure")
        assert "203.0.113.66" in audit.stdout and "127.0.0.1" not in audit.stdout
