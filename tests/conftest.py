"""Fixtures shared by every test: a real `dockyard serve` process and the real clients that talk to it.

Public API (other test packages import these, keep it stable):

    free_port() -> int
    DockyardServer(data_dir, log_path=None, port=None, env=None, template=None)
                                                        .url .host .port .data_dir .log_path
                                                        .start() .stop() .restart() .kill(), a context manager
                                                        .client(**httpx_kwargs), .http: clients on it
    Server                                              what DockyardServer and tests/inprocess.py's
                                                        InProcessDockyard share, for helpers that speak HTTP
    no_cookies() -> CookieJar                           a jar that keeps nothing (stateless shared clients)
    require_tool(name) -> str                           skip locally, fail under CI=true
    Cli                                                 a client binary plus the flags every call needs

    GitDaemon(base, git)                                `git daemon` on 127.0.0.1 serving every repository
                                                        below `base` (git://); .url(path), .stop()

    fixtures: dockyard (session), fresh_dockyard (function),
              docker_cli, skopeo_cli, podman_cli (session), base_image (session), git_daemon (session)
              template_database (session): a SQLite file migrated to head once per session; copy it
              database_url, database (function): a copy of the template in the test's tmp_path, and
                                                 its Database (disposed after the test)
              anyio_backend: "asyncio"

Markers (pyproject): every test is exactly one of unit / integration / e2e. Its directory gives the
default (KIND_OF_DIRECTORY below); a module of another kind says so with ``pytestmark``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import pytest

from tests import schedule

if TYPE_CHECKING:
    from dockyard.db.engine import Database

BASE_IMAGE = "dockyard-test-base:local"
BUSYBOX_LINKS = ("sh", "ls", "cat", "echo", "true")
# xdist's workers inherit COLUMNS=80 from execnet; Rich would fix every console of the CLI at 80
# columns when first imported. Without it (as in a plain pytest run) tables take the width the
# CLI runner or the subprocess environment gives.
os.environ.pop("COLUMNS", None)
# Generous: a loaded 2-core machine takes 30 s to start one, and `make test` runs four test
# processes (a shared machine running other suites took over 60 s to start a build server).
STARTUP_TIMEOUT = 120.0
SHUTDOWN_TIMEOUT = 30.0
LOG_TAIL_CHARS = 8000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def no_cookies() -> CookieJar:
    """A cookie jar that keeps nothing: a shared client stays as stateless as ``httpx.get``."""
    return CookieJar(DefaultCookiePolicy(allowed_domains=[]))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"true", "1"}


# ----------------------------------------------------------------------------------------------------
# The server under test
# ----------------------------------------------------------------------------------------------------


class Server(Protocol):
    """A Dockyard that tests reach over HTTP: a real ``dockyard serve`` or the app in process."""

    url: str
    host: str
    data_dir: Path
    env: dict[str, str]
    log_path: Path

    def client(self, **kwargs: Any) -> httpx.Client: ...

    @property
    def http(self) -> httpx.Client: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def restart(self) -> None: ...

    def log_tail(self, chars: int = ...) -> str: ...


class DockyardServer:
    """One `dockyard serve` subprocess bound to 127.0.0.1, logging to `log_path`.

    The executable is looked up next to `sys.executable`, so the tests exercise the venv they run in.
    """

    def __init__(
        self,
        data_dir: Path,
        log_path: Path | None = None,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        template: Path | None = None,
    ) -> None:
        self.env = dict(env or {})  # DOCKYARD_* settings for this server, over the test's environment
        # A migrated database (the session's template_database) that start() puts into an empty
        # data folder: `serve` then finds the schema current instead of migrating from nothing.
        self.template = template
        self.port = port if port is not None else free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.data_dir = Path(data_dir)
        self.log_path = (
            log_path if log_path is not None else self.data_dir.with_name(f"{self.data_dir.name}.log")
        )
        self._process: subprocess.Popen[bytes] | None = None
        self._clients: list[httpx.Client] = []
        self._http: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"DockyardServer({self.url}, data_dir={str(self.data_dir)!r})"

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx.Client on this server (``base_url`` and ``timeout`` preset), closed by stop()."""
        client = httpx.Client(**{"base_url": self.url, "timeout": 30, **kwargs})
        self._clients.append(client)
        return client

    @property
    def http(self) -> httpx.Client:
        """One shared client without credentials or cookies, for a request here and there."""
        if self._http is None:
            self._http = self.client(cookies=no_cookies())
        return self._http

    def _close_clients(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._http = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Launch the server and block until `GET /v2/` answers (any status)."""
        assert not self.running, f"{self} is already running"
        self._assert_port_free()
        if self.template is not None and not (self.data_dir / "dockyard.db").exists():
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copyfile(self.template, self.data_dir / "dockyard.db")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [
            str(Path(sys.executable).parent / "dockyard"),
            "serve",
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--data-dir", str(self.data_dir),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(command)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
                process_group=0,  # its own group: kill() reaches worker processes too
            )
        self._wait_until_ready()

    def stop(self) -> None:
        """SIGTERM the server, wait, and assert a clean exit: status 0 and no process left behind."""
        process = self._require_process()
        self._process = None
        self._close_clients()
        process.send_signal(signal.SIGTERM)
        try:
            code: int | None = process.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = None
        survivors = _end_process_group(process.pid)
        assert code is not None, f"{self} ignored SIGTERM for {SHUTDOWN_TIMEOUT:.0f}s\n{self.log_tail()}"
        assert code == 0, f"{self} exited with status {code} after SIGTERM\n{self.log_tail()}"
        assert not survivors, (
            f"{self} exited but left processes {survivors} running (now killed)\n{self.log_tail()}"
        )

    def __enter__(self) -> DockyardServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.running:
            self.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def kill(self) -> None:
        """SIGKILL the server and all its workers, as a crash would; the exit status is not checked."""
        process = self._require_process()
        self._process = None
        self._close_clients()
        _end_process_group(process.pid, grace=0)
        process.wait()

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        return f"--- {self.log_path} ---\n{text[-chars:]}"

    def _assert_port_free(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                raise RuntimeError(f"{self}: something still listens on port {self.port}")

    def _require_process(self) -> subprocess.Popen[bytes]:
        assert self._process is not None, f"{self} is not running"
        return self._process

    def _wait_until_ready(self) -> None:
        process = self._require_process()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self._process = None
                _end_process_group(process.pid, grace=0)
                raise RuntimeError(
                    f"{self} exited with status {process.returncode} during start-up\n{self.log_tail()}"
                )
            try:
                httpx.get(f"{self.url}/v2/", timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"{self} did not answer GET /v2/ within {STARTUP_TIMEOUT:.0f}s\n{self.log_tail()}")


def _live_group_members(pgid: int) -> list[int]:
    """Processes of the group that are not zombies (PID 1 may be slow, or never, to reap them)."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: any member, zombie or not
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _end_process_group(pgid: int, grace: float = 5.0) -> list[int]:
    """Wait `grace` seconds for the group to exit, then SIGKILL what is left; returns what was left."""
    deadline = time.monotonic() + grace
    while (survivors := _live_group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if survivors:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _live_group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
    return survivors


# The protocol suites test the registry itself, so their servers run without authentication;
# tests/access/ and tests/auth/ start servers with token auth (the default) to test access control.
OPEN_REGISTRY = {"DOCKYARD_AUTH": "none"}


@pytest.fixture(scope="session")
def dockyard(tmp_path_factory: pytest.TempPathFactory, template_database: Path) -> Iterator[DockyardServer]:
    """One open server shared by the whole session; tests must use repository names of their own."""
    data = tmp_path_factory.mktemp("dockyard-session") / "data"
    with DockyardServer(data, env=OPEN_REGISTRY, template=template_database) as server:
        yield server


@pytest.fixture
def fresh_dockyard(tmp_path: Path, template_database: Path) -> Iterator[DockyardServer]:
    """An open server with an empty data dir of its own, stopped (checked for a clean exit) after it."""
    with DockyardServer(tmp_path / "dockyard-data", env=OPEN_REGISTRY, template=template_database) as server:
        yield server


IN_PROCESS_SERVERS = ("InProcessDockyard", "ThreadedDockyard")  # tests/inprocess.py


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the log of every server a failed test used to its report."""
    report = yield
    if report.failed:
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, DockyardServer) or type(value).__name__ in IN_PROCESS_SERVERS:
                report.sections.append((f"dockyard log ({name})", value.log_tail()))
    return report


# ----------------------------------------------------------------------------------------------------
# Real clients
# ----------------------------------------------------------------------------------------------------


@functools.cache
def _tool_problem(name: str) -> str | None:
    path = shutil.which(name)
    if path is None:
        return f"{name} is not installed"
    if name == "docker":
        info = subprocess.run([path, "info"], capture_output=True, text=True, timeout=60, check=False)
        if info.returncode != 0:
            return f"docker engine is not reachable: {info.stderr.strip()}"
    return None


def require_tool(name: str) -> str:
    """The path of `name`; skips the test when it is unusable, but fails it under CI=true."""
    problem = _tool_problem(name)
    if problem is not None:
        if in_ci():
            pytest.fail(f"{problem} (CI=true: real-client tests must run, not skip)")
        pytest.skip(problem)
    return shutil.which(name) or name


class CliError(AssertionError):
    """A client command exited non-zero when the test expected success."""


@dataclass(frozen=True)
class Cli:
    """A client binary with the arguments and environment every call needs.

    `cli("push", ref)` runs it and raises CliError (with both output streams) on a non-zero exit,
    unless `check=False`.
    """

    path: str
    base_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 300, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [self.path, *self.base_args, *args]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            env={**os.environ, **self.env},
            check=False,
        )
        if check and result.returncode != 0:
            raise CliError(
                f"$ {' '.join(command)}\nexit status {result.returncode}\n"
                f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
            )
        return result


@pytest.fixture(scope="session")
def docker_cli() -> Cli:
    """The docker CLI against the machine's engine (which treats 127.0.0.0/8 registries as plain HTTP)."""
    return Cli(require_tool("docker"), env={"DOCKER_BUILDKIT": "0"})


@pytest.fixture(scope="session")
def skopeo_cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """skopeo with a trust policy of its own, so the machine's /etc/containers does not matter."""
    path = require_tool("skopeo")
    policy = tmp_path_factory.mktemp("skopeo") / "policy.json"
    policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}\n')
    return Cli(path, ("--policy", str(policy)))


@pytest.fixture(scope="session")
def podman_cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """podman with throw-away storage (vfs driver) and policy, independent of the machine's configuration."""
    path = require_tool("podman")
    home = tmp_path_factory.mktemp("podman")
    runroot = Path(tempfile.mkdtemp(prefix="podman-", dir="/tmp"))  # podman: at most 50 characters
    policy = home / "policy.json"
    policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}\n')
    cli = Cli(
        path,
        (
            f"--root={home / 'root'}",
            f"--runroot={runroot}",
            f"--tmpdir={home / 'tmp'}",
            "--storage-driver=vfs",
            "--cgroup-manager=cgroupfs",
            "--events-backend=none",
        ),
        env={"CONTAINERS_POLICY_JSON": str(policy)},
    )
    yield cli
    cli("system", "reset", "--force", check=False)
    shutil.rmtree(runroot, ignore_errors=True)


# ----------------------------------------------------------------------------------------------------
# A tiny base image, built offline from the machine's static busybox
# ----------------------------------------------------------------------------------------------------


def _is_static_elf(path: Path) -> bool:
    """True for an ELF executable without a PT_INTERP segment, i.e. one that needs no libc in the image."""
    with path.open("rb") as binary:
        header = binary.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:  # 64-bit only
            return False
        order = "<" if header[5] == 1 else ">"
        (phoff,) = struct.unpack_from(order + "Q", header, 32)
        phentsize, phnum = struct.unpack_from(order + "HH", header, 54)
        binary.seek(phoff)
        table = binary.read(phentsize * phnum)
    pt_interp = 3
    return all(struct.unpack_from(order + "I", table, i * phentsize)[0] != pt_interp for i in range(phnum))


def busybox_path() -> Path:
    for candidate in (Path("/bin/busybox"), Path("/usr/bin/busybox")):
        if candidate.is_file() and _is_static_elf(candidate):
            return candidate
    message = "a static /bin/busybox is needed to build the test base image (apt-get install busybox-static)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def busybox_rootfs_tar(extra_files: Mapping[str, bytes] | None = None) -> bytes:
    """An uncompressed rootfs tarball: /bin/busybox, a few applet links and `extra_files`, owned by root."""
    busybox = busybox_path()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        directory = tarfile.TarInfo("bin")
        directory.type, directory.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(directory)
        binary = tarfile.TarInfo("bin/busybox")
        binary.size, binary.mode = busybox.stat().st_size, 0o755
        with busybox.open("rb") as data:
            tar.addfile(binary, data)
        for applet in BUSYBOX_LINKS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname, link.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(link)
        for path, content in (extra_files or {}).items():
            file = tarfile.TarInfo(path)
            file.size, file.mode = len(content), 0o644
            tar.addfile(file, io.BytesIO(content))
    return buffer.getvalue()


@pytest.fixture(scope="session")
def base_image(docker_cli: Cli) -> str:
    """`dockyard-test-base:local` in the local engine, imported from busybox if missing.

    Never removed: concurrent sessions on the same engine share it.
    """
    if docker_cli("image", "inspect", BASE_IMAGE, check=False).returncode != 0:
        result = subprocess.run(
            [docker_cli.path, "import", "-", BASE_IMAGE],
            input=busybox_rootfs_tar(),
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"docker import failed: {result.stderr.decode(errors='replace')}"
    return BASE_IMAGE


# ----------------------------------------------------------------------------------------------------
# Git sources for the build worker, on loopback
# ----------------------------------------------------------------------------------------------------


class GitDaemon:
    """`git daemon` on 127.0.0.1 serving every repository below `base` read-only."""

    def __init__(self, base: Path, git: str) -> None:
        self.base, self.port = base, free_port()
        command = [
            git, "daemon", "--export-all", "--reuseaddr", f"--base-path={base}",
            "--listen=127.0.0.1", f"--port={self.port}", str(base),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _listening(self.port):
            assert self.process.poll() is None and time.monotonic() < deadline, "git daemon did not start"
            time.sleep(0.05)

    def url(self, repository: Path) -> str:
        return f"git://127.0.0.1:{self.port}/{repository.relative_to(self.base)}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def git_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitDaemon]:
    """One `git daemon` serving every repository the session's tests make (below its basetemp)."""
    daemon = GitDaemon(tmp_path_factory.getbasetemp(), require_tool("git"))
    yield daemon
    daemon.stop()


# ----------------------------------------------------------------------------------------------------
# Databases: migrated once per session, copied per test
# ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head once per session. Never opened by a test: copy it.

    A copy is ~1 ms where an upgrade is ~0.6 s (seconds on a loaded machine); a data folder whose
    database is a copy still goes through ``datadir.prepare`` (its checks and an upgrade that finds
    nothing to do), so the migrations themselves stay tested (tests/accounts/test_migration.py)."""
    import sqlite3

    from dockyard.migrations import upgrade

    path = tmp_path_factory.mktemp("template-database") / "dockyard.db"
    upgrade(f"sqlite:///{path}")
    with contextlib.closing(sqlite3.connect(path)) as conn:  # everything in the one file, no WAL beside it
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def database_url(tmp_path: Path, template_database: Path) -> str:
    """A freshly migrated database of the test's own (a copy of the template), as a URL."""
    target = tmp_path / "dockyard.db"
    shutil.copyfile(template_database, target)
    return f"sqlite:///{target}"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    from dockyard.db.engine import make_database

    db = make_database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# ----------------------------------------------------------------------------------------------------
# Markers: unit (no app, no database), integration (the app in process or a database of the test's
# own), e2e (a real server, the CLI as a subprocess or a real client). `pytest -m unit` runs in seconds.
# ----------------------------------------------------------------------------------------------------

KINDS = ("unit", "integration", "e2e")
KIND_OF_DIRECTORY = {
    "unit": "unit",
    "auth": "unit",
    "registry": "integration",
    "access": "integration",
    "accounts": "integration",
    "api": "e2e",
    "hub": "integration",
    "builds": "e2e",
    "e2e": "e2e",
    "ops": "integration",  # the real docker/skopeo/server ones say e2e (test_gc_e2e.py, the `hub` ones)
    "proxy": "integration",  # the real server ones say e2e (test_docker_pull.py, test_single_flight.py)
    "security": "e2e",
    "server": "e2e",
    "web": "e2e",
}
DEFAULT_KIND = "e2e"  # a new directory not listed above: the slow kind until someone says otherwise


def pytest_addoption(parser: pytest.Parser) -> None:
    schedule.add_option(parser)


def pytest_configure(config: pytest.Config) -> None:
    schedule.configure(config)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every test its directory's kind unless its module names one; no test is of two kinds.
    Under xdist, order the files slowest first (tests/schedule.py)."""
    schedule.order_slowest_first(items)
    tests = Path(__file__).parent
    for item in items:
        kinds = [kind for kind in KINDS if item.get_closest_marker(kind)]
        if not kinds:
            parts = item.path.relative_to(tests).parts
            kind = KIND_OF_DIRECTORY.get(parts[0], DEFAULT_KIND) if len(parts) > 1 else DEFAULT_KIND
            item.add_marker(kind)
            kinds = [kind]
        assert len(kinds) == 1, f"{item.nodeid} is marked {kinds}: a test is one of {KINDS}"
