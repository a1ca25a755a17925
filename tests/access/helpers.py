"""Helpers for the access-control suite: the `dockyard` CLI, tokens, challenges.

Everything talks over HTTP to a Dockyard with token auth, the app in process (`in_process_world`,
tests/inprocess.py) or a real `dockyard serve` (`running_world`), and administers it with the real
CLI against the same data folder while it runs, as an operator would.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tests.conftest import DockyardServer, Server
from tests.inprocess import InProcessDockyard, ThreadedDockyard, same_umask

if TYPE_CHECKING:
    from dockyard.clock import Clock

PAT_RE = re.compile(r"dckr_pat_[A-Za-z0-9_\-]+")
PAT_ID_RE = re.compile(r"Created access token (\d+)")
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
        # Wide enough that rich never wraps a table cell.
        env={**os.environ, "COLUMNS": "1000", **(env or {})},
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"$ {' '.join(command)}\nexit status {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return result


def past_the_standing_cache() -> None:
    """Wait out the second for which a server process remembers that a verified access token's
    account still stands (dockyard.auth.standing): a revocation made with the CLI reaches access
    tokens within that second, not sooner. (The CLI, a subprocess of ~2 s once, hid this wait.)"""
    from dockyard.auth.standing import TTL_SECONDS

    time.sleep(TTL_SECONDS)


def new_password(name: str) -> str:
    """A password unique to this run, so a grep of the server log for it means something."""
    return f"Pw-{name}-{secrets.token_urlsafe(18)}"


# ----------------------------------------------------------------------------------------------------
# A populated server
# ----------------------------------------------------------------------------------------------------


@dataclass
class World:
    """A running server with auth on, and the accounts, tokens and repositories the CLI made in it."""

    server: Server
    passwords: dict[str, str] = field(default_factory=dict)
    pats: dict[str, str] = field(default_factory=dict)  # label -> plaintext personal access token
    pat_ids: dict[str, str] = field(default_factory=dict)  # label -> the id `token revoke` takes
    _clients: dict[str | None, httpx.Client] = field(default_factory=dict, repr=False)
    _service: str | None = field(default=None, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    def cli(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`dockyard ARGS --data-dir DATA_DIR`, run by the CLI app in this process (the test's), beside
        the server (a real one is another process; the app in process has services of its own).

        The CLI as an executable of its own (its entry point, exit statuses, stderr) is tested in
        tests/accounts/test_cli.py and tests/server/; here each command would cost an interpreter
        start (~2 s on a loaded machine) for nothing the test asserts."""
        command = [*args, "--data-dir", str(self.data_dir)]
        result = run_cli_in_process(command, io.StringIO(input or ""))
        if check and result.code != 0:
            raise AssertionError(str(result))
        return subprocess.CompletedProcess(command, result.code or 0, result.stdout, result.stderr)

    def create_user(self, name: str, *, admin: bool = False) -> str:
        with self.batch() as batch:
            batch.user(name, admin=admin)
        return self.passwords[name]

    def create_pat(self, label: str, user: str, scope: str, *extra: str) -> str:
        with self.batch() as batch:
            batch.pat(label, user, scope, *extra)
        return self.pats[label]

    @contextlib.contextmanager
    def batch(self) -> Iterator[Batch]:
        """Queue CLI commands, then run them all in one interpreter (each ~2 s on its own)."""
        batch = Batch(self)
        yield batch
        batch.execute()

    def secrets(self) -> list[str]:
        return [*self.passwords.values(), *self.pats.values()]

    # HTTP ----------------------------------------------------------------------------------------

    def basic(self, user: str, password: str | None = None) -> tuple[str, str]:
        return (user, password if password is not None else self.passwords[user])

    def token(self, *scopes: str, user: str | None = None, password: str | None = None) -> str:
        """A bearer token from GET /token for `scopes`, anonymous when `user` is None."""
        auth = self.basic(user, password) if user is not None else None
        response = request_token(self.server, scopes, auth=auth, service=self.service)
        assert response.status_code == 200, (response.status_code, response.text)
        body = response.json()
        token: str = body.get("token") or body["access_token"]
        return token

    def client(self, token: str | None = None) -> contextlib.AbstractContextManager[httpx.Client]:
        """A client presenting `token` (none: no Authorization header), kept open for reuse.

        Creating an httpx.Client costs ~10 ms (an SSL context), a request on an open one ~1 ms."""
        client = self._clients.get(token)
        if client is None:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            client = self.server.client(headers=headers, follow_redirects=False)
            self._clients[token] = client
        return contextlib.nullcontext(client)

    @property
    def service(self) -> str:
        if self._service is None:
            self._service = service_of(self.server)
        return self._service

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


@dataclass(frozen=True)
class CliResult:
    args: list[str]
    code: int | None
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (
            f"$ dockyard {' '.join(self.args)}\nexit status {self.code}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


@dataclass
class Batch:
    """`dockyard` commands run one after another by the real CLI app, in this process.

    Each command gets the same arguments (and --data-dir) as on the command line. A command
    that exits non-zero fails the batch, unless queued with `check=False`; `results` holds
    every command's exit status and output once the batch ran.
    """

    world: World
    commands: list[list[str]] = field(default_factory=list)
    checks: list[bool] = field(default_factory=list)
    stdin: list[str] = field(default_factory=list)
    after: list[Callable[[CliResult], None]] = field(default_factory=list)
    results: list[CliResult] = field(default_factory=list)

    def run(
        self,
        *args: str,
        stdin: str | None = None,
        check: bool = True,
        then: Callable[[CliResult], None] | None = None,
    ) -> int:
        """Queue a command; returns its index in `results`."""
        self.commands.append([*args, "--data-dir", str(self.world.data_dir)])
        self.checks.append(check)
        if stdin is not None:
            self.stdin.append(stdin)
        self.after.append(then or (lambda result: None))
        return len(self.commands) - 1

    def user(self, name: str, *, admin: bool = False) -> None:
        password = new_password(name)
        args = ["user", "create", name, "--email", f"{name}@example.com", "--password-stdin"]
        self.run(*args, *(["--admin"] if admin else []), stdin=password)
        self.world.passwords[name] = password

    def pat(self, label: str, user: str, scope: str, *extra: str) -> None:
        def remember(result: CliResult) -> None:
            found = PAT_RE.findall(result.stdout)
            assert len(found) == 1, f"`token create` should print the token once:\n{result}"
            token_id = PAT_ID_RE.search(result.stderr + result.stdout)
            assert token_id is not None, f"`token create` should say the new token's id:\n{result}"
            self.world.pats[label] = found[0]
            self.world.pat_ids[label] = token_id[1]

        self.run("token", "create", user, "--scope", scope, *extra, then=remember)

    def execute(self) -> None:
        """Run the queued commands one after another by the CLI app in this process (see World.cli)."""
        if not self.commands:
            return
        stdin = io.StringIO("".join(f"{line}\n" for line in self.stdin))
        for args in self.commands:
            self.results.append(run_cli_in_process(args, stdin))
        for result, check, then in zip(self.results, self.checks, self.after, strict=True):
            if check:
                assert result.code == 0, str(result)
            then(result)


def run_cli_in_process(args: list[str], stdin: io.StringIO) -> CliResult:
    """One `dockyard` command run by the CLI app in this process, as on the command line: the same
    arguments, exit statuses and output, each stream on its own.

    It runs on a thread of its own: the CLI starts event loops (``asyncio.run``), which cannot
    start on a thread where one already runs (Playwright's sync API keeps one on the main thread)."""
    results: list[CliResult] = []
    worker = threading.Thread(target=lambda: results.append(_run_cli_here(args, stdin)))
    worker.start()
    worker.join()
    assert results, f"the CLI thread died running {args}"
    return results[0]


def _run_cli_here(args: list[str], stdin: io.StringIO) -> CliResult:
    import click

    from dockyard.cli import common
    from dockyard.cli.main import app

    stdout, stderr = io.StringIO(), io.StringIO()
    consoles = (common.console, common.out)
    widths = [console._width for console in consoles]
    try:
        for console in consoles:
            console.width = 1000  # as COLUMNS=1000 does for the subprocess: rich never wraps a cell
        with (
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
            _stdin(stdin),
            same_umask(),  # the CLI sets 077 for its process, which is the test session here
        ):
            try:
                code = app(args, standalone_mode=False, prog_name="dockyard")
            except SystemExit as exc:
                code = exc.code
            except click.ClickException as exc:
                exc.show()
                code = exc.exit_code
            except click.exceptions.Abort:
                code = 1
            except Exception:  # a crash: the command line would show this traceback
                traceback.print_exc()
                code = 99
    finally:
        for console, width in zip(consoles, widths, strict=True):
            console._width = width
    status = code if isinstance(code, int) else (0 if code is None else 1)  # sys.exit("message"): 1
    return CliResult(args, status, stdout.getvalue(), stderr.getvalue())


def cli_here(
    data_dir: Path,
    *args: str,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """`dockyard ARGS --data-dir DATA_DIR` as ``run_cli`` runs it, but by the CLI app in this
    process, with ``env`` in the environment while it runs (a server's settings, as its operator
    would have them): for the commands a test needs done, not tested (an interpreter start is
    seconds of CPU). The executable itself is tested in tests/accounts/test_cli.py and tests/server/."""
    command = [*args, "--data-dir", str(data_dir)]
    with _environment(env or {}):
        result = run_cli_in_process(command, io.StringIO(input or ""))
    if check and result.code != 0:
        raise AssertionError(str(result))
    return subprocess.CompletedProcess(command, result.code or 0, result.stdout, result.stderr)


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _stdin(stream: io.StringIO) -> Iterator[None]:
    previous, sys.stdin = sys.stdin, stream
    try:
        yield
    finally:
        sys.stdin = previous


@contextlib.contextmanager
def running_world(
    data_dir: Path, env: Mapping[str, str] | None = None, *, template: Path | None = None
) -> Iterator[World]:
    """Start a real server on an empty data folder with token auth enforced (plus `env`), stop it
    after; `template`: a migrated database to start from (the session's ``template_database``)."""
    env = {"DOCKYARD_AUTH": "token", **(env or {})}
    with _world(DockyardServer(data_dir, env=env, template=template)) as world:
        yield world


@contextlib.contextmanager
def in_process_world(
    data_dir: Path,
    env: Mapping[str, str] | None = None,
    *,
    template: Path | None = None,
    clock: Clock | None = None,
) -> Iterator[World]:
    """The same with the app in process (tests/inprocess.py): `template` a migrated database to
    start from (the session's ``template_database``), `clock` the one its services read."""
    env = {"DOCKYARD_AUTH": "token", **(env or {})}
    with _world(InProcessDockyard(data_dir, env, template=template, clock=clock)) as world:
        yield world


@contextlib.contextmanager
def threaded_world(
    data_dir: Path,
    env: Mapping[str, str] | None = None,
    *,
    template: Path | None = None,
    clock: Clock | None = None,
) -> Iterator[World]:
    """The same with the app served on a real socket from a thread of this process
    (tests/inprocess.py's ThreadedDockyard): for tests that need a URL but no server process."""
    env = {"DOCKYARD_AUTH": "token", **(env or {})}
    with _world(ThreadedDockyard(data_dir, env, template=template, clock=clock)) as world:
        yield world


@contextlib.contextmanager
def _world(server: Server) -> Iterator[World]:
    server.start()
    world = World(server)
    try:
        yield world
    finally:
        world.close()
        if server.running:
            server.stop()


# ----------------------------------------------------------------------------------------------------
# The token protocol
# ----------------------------------------------------------------------------------------------------


def challenge_of(response: httpx.Response | RawResponse) -> dict[str, str]:
    """The parameters of the response's `WWW-Authenticate: Bearer ...` challenge."""
    header = response.headers.get("www-authenticate")
    assert header is not None, f"{response.status_code} without WWW-Authenticate: {response.text[:300]}"
    scheme, _, rest = header.partition(" ")
    assert scheme.lower() == "bearer", header
    return dict(CHALLENGE_PARAM_RE.findall(rest))


def service_of(server: Server) -> str:
    """The `service` the server names in its challenge (what clients send back to /token)."""
    response = server.http.get("/v2/")
    assert response.status_code == 401, (response.status_code, response.text)
    return challenge_of(response)["service"]


def request_token(
    server: Server,
    scopes: tuple[str, ...] | list[str] = (),
    *,
    auth: tuple[str, str] | None = None,
    service: str | None = None,
    **params: str,
) -> httpx.Response:
    query: list[tuple[str, str | int | float | bool | None]] = [("service", service or service_of(server))]
    query += [("scope", scope) for scope in scopes]
    query += list(params.items())
    return server.http.get("/token", params=query, auth=auth)


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def error_codes(response: httpx.Response | RawResponse) -> list[str]:
    body: Any = response.json()
    assert isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"], body
    return [entry["code"] for entry in body["errors"]]


def assert_unauthorized(
    response: httpx.Response | RawResponse,
    server: Server,
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
    """`repository:a/b:pull,push` covers `repository:a/b:push`: same resource, a superset of actions.

    A challenge may name several scopes, space-separated (a mount adds pull on its source): the
    first one is the request's own resource."""
    expected_resource, _, expected_actions = expected.rpartition(":")
    resource, _, actions = actual.split(" ")[0].rpartition(":")
    assert resource == expected_resource, (actual, expected)
    assert set(expected_actions.split(",")) <= set(actions.split(",")), (actual, expected)


# ----------------------------------------------------------------------------------------------------
# Raw HTTP: requests no client library would send (bad header whitespace, huge URLs, `..` paths)
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names; the last value wins
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def status_code(self) -> int:  # the httpx.Response spelling, so the assertions take either
        return self.status

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def raw_http(
    server: DockyardServer,
    method: str,
    target: str,
    headers: Mapping[str, str | bytes] | None = None,
    body: bytes = b"",
) -> RawResponse | None:
    """One request over a bare socket, bytes as given; None when the server closed without answering."""
    lines = [f"{method} {target} HTTP/1.1".encode(), f"Host: {server.host}".encode(), b"Connection: close"]
    for name, value in (headers or {}).items():
        raw = value if isinstance(value, bytes) else value.encode("latin-1")
        lines.append(name.encode() + b": " + raw)
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}".encode())
    request = b"\r\n".join(lines) + b"\r\n\r\n" + body
    chunks = []
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        return None
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    if parsed.get("transfer-encoding", "").lower() == "chunked":
        rest = _dechunk(rest)
    return RawResponse(int(status_line.split(" ", 2)[1]), parsed, rest)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out
