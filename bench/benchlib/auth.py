"""Docker token auth for Dockyard's ``--dockyard-auth token`` mode.

Distribution runs open (no auth), so the default comparison runs Dockyard open too
(``DOCKYARD_AUTH=none``). Token mode measures what auth costs: a user is created with Dockyard's
CLI before the server starts, and one bearer token covering every benchmark repository is fetched
from the realm in the 401 challenge, as ``docker login`` would, and sent with every request.
"""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

USER = "bench"
PASSWORD = "bench-password-not-secret"
REPOS = ("bench/blobs", "bench/manifests", "bench/tags", "bench/memory")
TOKEN_TTL_SECONDS = 3600  # outlives a full run, so no refresh is needed mid-workload


def create_user(binary: str, data_dir: Path, env: dict[str, str]) -> None:
    """Migrate the database and create the benchmark user, before the server starts."""
    for argv, stdin in (([binary, "migrate", "--data-dir", str(data_dir)], None),
                        ([binary, "user", "create", USER, "--password-stdin", "--data-dir", str(data_dir)],
                         PASSWORD + "\n")):
        out = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, check=False)
        if out.returncode:
            raise RuntimeError(f"{' '.join(argv)} failed ({out.returncode}):\n{out.stdout}{out.stderr}")


def _challenge(base: str) -> dict[str, str]:
    try:
        urllib.request.urlopen(base + "/v2/", timeout=10).close()
    except urllib.error.HTTPError as exc:
        header = exc.headers.get("WWW-Authenticate", "")
        if exc.code == 401 and header.startswith("Bearer "):
            pairs = (p.split("=", 1) for p in header[len("Bearer "):].split(","))
            return {k.strip(): v.strip().strip('"') for k, v in pairs}
        raise RuntimeError(f"GET /v2/ answered {exc.code} without a Bearer challenge: {header!r}") from exc
    raise RuntimeError("GET /v2/ answered 200: the server does not require auth")


def bearer_headers(base: str) -> dict[str, str]:
    """Log in with Basic credentials at the challenge's realm; the Authorization header to send."""
    challenge = _challenge(base)
    query = urlencode([("service", challenge.get("service", "")), ("account", USER)]
                      + [("scope", f"repository:{r}:pull,push") for r in REPOS])
    req = urllib.request.Request(f"{challenge['realm']}?{query}")
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    req.add_header("Authorization", f"Basic {basic}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        token = json.loads(resp.read())["token"]
    return {"Authorization": f"Bearer {token}"}
