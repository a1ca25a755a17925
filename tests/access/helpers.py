"""Helpers for the access-control suite: the `dockyard` CLI as a subprocess, tokens, challenges.

Everything talks to a real `dockyard serve` (tests/conftest.py's DockyardServer) over HTTP, and
administers it with the real CLI against the same data folder while it runs, as an operator would.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import DockyardServer

PAT_RE = re.compile(r"dckr_pat_[A-Za-z0-9_\-]+")
CHALLENGE_PARAM_RE = re.compile(r'(\w+)="([^"]*)"')
CLI_TIMEOUT = 60


# ----------------------------------------------------------------------------------------------------
# The CLI
# ----------------------------------------------------------------------------------------------------


def dockyard_executable() -> str:
    return str(Path(sys.executable).parent / "dockyard")


def run_cli(
    data_dir: Path,
    *args: str,
    input: str | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`dockyard ARGS --data-dir DATA_DIR`; raises with both streams on an unexpected failure."""
    command = [dockyard_executable(), *args, "--data-dir", str(data_dir)]
    result = subprocess.run(
        command,
        input=input,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"$ {' '.join(command)}\nexit status {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return result


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """DockyardServer.start() hands the server os.environ; set `values` for the length of the block."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def new_password(name: str) -> str:
    """A password unique to this run, so a grep of the server log for it means something."""
    return f"Pw-{name}-{secrets.token_urlsafe(18)}"


# ----------------------------------------------------------------------------------------------------
# A populated server
# ----------------------------------------------------------------------------------------------------


@dataclass
class World:
    """A running server with auth on, and the accounts, tokens and repositories the CLI made in it."""

    server: DockyardServer
    passwords: dict[str, str] = field(default_factory=dict)
    pats: dict[str, str] = field(default_factory=dict)  # label -> plaintext personal access token

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    def cli(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(self.data_dir, *args, input=input, check=check)

    def create_user(self, name: str, *, admin: bool = False) -> str:
        password = new_password(name)
        args = ["user", "create", name, "--email", f"{name}@example.com", "--password-stdin"]
        if admin:
            args.append("--admin")
        self.cli(*args, input=password + "\n")
        self.passwords[name] = password
        return password

    def create_pat(self, label: str, user: str, scope: str, *extra: str) -> str:
        output = self.cli("token", "create", user, "--scope", scope, *extra)
        found = PAT_RE.findall(output.stdout)
        assert len(found) == 1, f"`token create` should print the token once:\n{output.stdout}{output.stderr}"
        self.pats[label] = found[0]
        return found[0]

    def secrets(self) -> list[str]:
        return [*self.passwords.values(), *self.pats.values()]

    # HTTP ----------------------------------------------------------------------------------------

    def basic(self, user: str, password: str | None = None) -> tuple[str, str]:
        return (user, password if password is not None else self.passwords[user])

    def token(self, *scopes: str, user: str | None = None, password: str | None = None) -> str:
        """A bearer token from GET /token for `scopes`, anonymous when `user` is None."""
        auth = self.basic(user, password) if user is not None else None
        response = request_token(self.server, scopes, auth=auth)
        assert response.status_code == 200, (response.status_code, response.text)
        body = response.json()
        token: str = body.get("token") or body["access_token"]
        return token

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=30, follow_redirects=False)


@contextlib.contextmanager
def running_world(data_dir: Path, env: Mapping[str, str] | None = None) -> Iterator[World]:
    """Start a server on an empty data folder with token auth enforced (plus `env`), stop it after."""
    server = DockyardServer(data_dir)
    with patched_environ({"DOCKYARD_AUTH": "token", **(env or {})}):
        server.start()
    try:
        yield World(server)
    finally:
        if server.running:
            server.stop()


# ----------------------------------------------------------------------------------------------------
# The token protocol
# ----------------------------------------------------------------------------------------------------


def challenge_of(response: httpx.Response) -> dict[str, str]:
    """The parameters of the response's `WWW-Authenticate: Bearer ...` challenge."""
    header = response.headers.get("www-authenticate")
    assert header is not None, f"{response.status_code} without WWW-Authenticate: {response.text[:300]}"
    scheme, _, rest = header.partition(" ")
    assert scheme.lower() == "bearer", header
    return dict(CHALLENGE_PARAM_RE.findall(rest))


def service_of(server: DockyardServer) -> str:
    """The `service` the server names in its challenge (what clients send back to /token)."""
    response = httpx.get(f"{server.url}/v2/", timeout=30)
    assert response.status_code == 401, (response.status_code, response.text)
    return challenge_of(response)["service"]


def request_token(
    server: DockyardServer,
    scopes: tuple[str, ...] | list[str] = (),
    *,
    auth: tuple[str, str] | None = None,
    service: str | None = None,
    **params: str,
) -> httpx.Response:
    query: list[tuple[str, str]] = [("service", service or service_of(server))]
    query += [("scope", scope) for scope in scopes]
    query += list(params.items())
    return httpx.get(f"{server.url}/token", params=query, auth=auth, timeout=30)


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def error_codes(response: httpx.Response) -> list[str]:
    body: Any = response.json()
    assert isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"], body
    return [entry["code"] for entry in body["errors"]]


def assert_unauthorized(
    response: httpx.Response,
    server: DockyardServer,
    *,
    error: str | None = None,
    scope: str | None = None,
    codes: tuple[str, ...] = ("UNAUTHORIZED",),
) -> dict[str, str]:
    """A 401 in the protocol's format: a Bearer challenge naming our /token, and an errors body.

    `error=None` asserts the challenge carries no `error` parameter; `scope` (if given) must name the
    same resource as the challenge's scope, whose actions must include the given ones.
    """
    assert response.status_code == 401, (response.status_code, response.text[:500])
    params = challenge_of(response)
    assert params.get("realm") == f"{server.url}/token", params
    assert params.get("service"), params
    assert params.get("error") == error, params
    if scope is not None:
        assert_scope_covers(params.get("scope", ""), scope)
    assert response.headers.get("content-type", "").split(";")[0] == "application/json", response.headers
    found = error_codes(response)
    assert any(code in codes for code in found), (found, codes)
    return params


def assert_scope_covers(actual: str, expected: str) -> None:
    """`repository:a/b:pull,push` covers `repository:a/b:push`: same resource, a superset of actions."""
    expected_resource, _, expected_actions = expected.rpartition(":")
    resource, _, actions = actual.rpartition(":")
    assert resource == expected_resource, (actual, expected)
    assert set(expected_actions.split(",")) <= set(actions.split(",")), (actual, expected)
