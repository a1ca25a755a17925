"""Fetching the source: the only program a build runs on the host, and it is git, locked down.

git gets an environment made from nothing (no variable of the build's rules, none of the
server's), a config file of ours (``GIT_CONFIG_GLOBAL``, mode 0600) and an empty HOME::

    <workspace>/git/
        config          protocol.allow=never but the source's own protocol; no hooks; no redirects;
                        http(s): the host pinned to its checked address (http.curloptResolve) and
                        the link's credentials as a header for the source's origin alone
                        (http.<origin>.extraHeader); git and ssh: connections through the relay
        connect         the relay command (core.gitProxy, ssh's ProxyCommand): the source's host
                        and port only, checked and pinned by the outbound guard
        home/           HOME
        ssh/            the deploy key and known_hosts, when the link has a key

Submodules are fetched one level at a time: after ``git submodule init`` every URL git resolved
(relative ones against the source) must be on the source's own origin, else the build fails
before anything is fetched from it. git's output goes to the build log, except where git would
repeat what a server answered outside the git protocol (``bad line length character: ...``).
"""

from __future__ import annotations

import contextlib
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import anyio

from dockyard import netguard
from dockyard.builds.runtime import LogWriter, StepFailed, basic_header
from dockyard.builds.sources import ParsedSource, Source, SourceError, parse, same_origin
from dockyard.config import BuildSettings

COMMIT = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")
SETTING = "DOCKYARD_BUILD_ALLOW_PRIVATE_SOURCES"
MAX_SUBMODULE_DEPTH = 5
MAX_LINE = 64 * 1024
ECHOES = re.compile(
    r"(bad line length character|protocol error: unexpected|bad band #?|expected flush).*", re.I
)
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


class GitSession:
    """git for one source, in ``root`` (a folder of the build's workspace)."""

    def __init__(
        self, settings: BuildSettings, root: Path, parsed: ParsedSource, credentials: Mapping[str, str]
    ):
        self.settings = settings
        self.root = root
        self.source: Source = parsed.source
        # Credentials in the link win; a username/password inside an old link's URL is used likewise.
        self.credentials = {**parsed.credentials, **{k: v for k, v in credentials.items() if v}}
        self.checkout = root

    @classmethod
    def for_url(
        cls, settings: BuildSettings, root: Path, url: str, credentials: Mapping[str, str]
    ) -> GitSession:
        try:
            return cls(settings, root, parse(url), credentials)
        except SourceError as exc:
            raise StepFailed(f"cannot fetch this source: {exc}") from None

    # -- set-up ---------------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Check the host now (a clear reason when refused), then write the config: http(s) is
        pinned to the address checked here; git and ssh connect through the relay, which checks
        (and pins) again on each connection."""
        try:
            address = await netguard.resolve(
                self.source.host,
                self.source.effective_port,
                allow_private=self.settings.allow_private_sources,
                setting=SETTING,
            )
        except netguard.OutboundError as exc:
            raise StepFailed(f"cannot fetch {self.source.url}: {exc}") from None
        pinned = address if self.source.scheme in ("http", "https") else None
        await anyio.to_thread.run_sync(self._write_files, pinned)

    def _write_files(self, pinned: netguard.Address | None) -> None:
        for folder in (self.root, self.home, self.root / "hooks"):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        _private(self.config, _config_text(self._settings(pinned)))
        if self.source.scheme in ("git", "ssh"):
            _private(self.connect, self._connect_script(), mode=0o700)
        if self.credentials.get("ssh_key"):
            (self.root / "ssh").mkdir(mode=0o700, exist_ok=True)
            _private(self.root / "ssh" / "id", self.credentials["ssh_key"].strip() + "\n")

    def _settings(self, pinned: netguard.Address | None) -> list[tuple[str, str, str]]:
        source = self.source
        settings = [
            ("protocol", "allow", "never"),
            (f'protocol "{source.scheme}"', "allow", "always"),
            ("protocol", "version", "2"),
            ("core", "hooksPath", str(self.root / "hooks")),
            ("core", "fsmonitor", "false"),
            ("core", "askPass", "/bin/false"),
            ("credential", "helper", ""),
            ("http", "followRedirects", "false"),
            ("http", "lowSpeedLimit", "1000"),
            ("http", "lowSpeedTime", "60"),
            ("submodule", "recurse", "false"),
            ("fetch", "recurseSubmodules", "false"),
            ("advice", "detachedHead", "false"),
            ("init", "defaultBranch", "main"),
        ]
        if pinned is not None:
            address = f"[{pinned}]" if pinned.version == 6 else str(pinned)
            settings.append(("http", "curloptResolve", f"{source.host}:{source.effective_port}:{address}"))
        if source.scheme in ("http", "https") and (
            self.credentials.get("password") or self.credentials.get("username")
        ):
            header = basic_header(self.credentials.get("username", ""), self.credentials.get("password", ""))
            settings.append((f'http "{source.origin_url}"', "extraHeader", f"Authorization: {header}"))
        if source.scheme == "git":
            settings.append(("core", "gitProxy", str(self.connect)))
        if source.scheme == "ssh":
            settings.append(("core", "sshCommand", self._ssh_command()))
            settings.append(("ssh", "variant", "ssh"))
        return settings

    def _ssh_command(self) -> str:
        ssh = self.root / "ssh"
        options = [
            "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new",
            "-o", f"UserKnownHostsFile={ssh / 'known_hosts'}", "-o", f"ProxyCommand={self.connect} %h %p",
            "-o", "ForwardAgent=no", "-o", "ClearAllForwardings=yes", "-o", "PermitLocalCommand=no",
        ]  # fmt: skip
        if self.credentials.get("ssh_key"):
            options += ["-o", "IdentitiesOnly=yes", "-i", str(ssh / "id")]
        return shlex.join(["ssh", *options])

    def _connect_script(self) -> str:
        command = [
            sys.executable, "-I", "-m", "dockyard.builds.relay",
            "--expect", self.source.host, "--port", str(self.source.effective_port),
        ]  # fmt: skip
        if self.settings.allow_private_sources:
            command.append("--allow-private")
        return f'#!/bin/sh\nexec {shlex.join(command)} "$@"\n'

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def connect(self) -> Path:
        return self.root / "connect"

    @property
    def home(self) -> Path:
        return self.root / "home"

    def environment(self) -> dict[str, str]:
        """git's whole environment: fixed values and our own paths, nothing from a user."""
        return {
            "PATH": SAFE_PATH,
            "HOME": str(self.home),
            "LANG": "C",
            "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": str(self.config),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_ALLOW_PROTOCOL": self.source.scheme,
            "GIT_PROTOCOL_FROM_USER": "0",
        }

    # -- commands -------------------------------------------------------------------------------

    async def fetch(self, commit: str, dest: Path, log: LogWriter) -> None:
        """Check out ``commit`` of the source into ``dest``, with its submodules."""
        if not COMMIT.match(commit):
            raise StepFailed(f"{commit!r} is not a commit id")
        await self.prepare()
        log(f"Fetching {commit} from {self.source.url}")
        await self.step(["init", "-q", str(dest)], self.root, log)
        await self.step(["remote", "add", "origin", self.source.url], dest, log)
        if await self.run(["fetch", "-q", "--depth=1", "origin", commit], dest, log) != 0:
            log("Fetching the commit by id failed; fetching all branches and tags instead")
            refspecs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
            await self.step(["fetch", "-q", "origin", *refspecs], dest, log, "git fetch")
        await self.step(["checkout", "-q", "--detach", commit], dest, log, "git checkout")
        self.checkout = dest
        await self._submodules(dest, log, 1)

    async def _submodules(self, repo: Path, log: LogWriter, depth: int) -> None:
        if not (repo / ".gitmodules").exists() and not (repo / ".gitmodules").is_symlink():
            return
        if depth > MAX_SUBMODULE_DEPTH:
            raise StepFailed(f"submodules are nested more than {MAX_SUBMODULE_DEPTH} levels deep")
        await self.step(["submodule", "init", "-q"], repo, log, "git submodule init")
        urls = await self._config_values(repo, r"^submodule\..*\.url$", local=True)
        for key, url in urls.items():
            name = key.removeprefix("submodule.").removesuffix(".url")
            self._check_submodule(name, url)
        await self.step(["submodule", "update", "-q", "--depth=1"], repo, log, "git submodule update")
        paths = await self._config_values(repo, r"^submodule\..*\.path$", file=".gitmodules")
        top = self.checkout.resolve()
        for key, path in paths.items():
            inner = (repo / path).resolve()
            if f"{key.removesuffix('.path')}.url" in urls and inner.is_relative_to(top) and inner != top:
                await self._submodules(inner, log, depth + 1)

    def _check_submodule(self, name: str, url: str) -> None:
        try:
            parsed = parse(url)
        except SourceError as exc:
            raise StepFailed(f"submodule {name!r} is refused: {exc}") from None
        if parsed.credentials:
            raise StepFailed(f"submodule {name!r} is refused: its URL holds credentials")
        if not same_origin(self.source, parsed.source):
            raise StepFailed(
                f"submodule {name!r} is refused: it comes from {parsed.source.url}, but submodules are "
                f"fetched only from the source's own host and protocol ({self.source.origin_url}); "
                "use a relative URL such as ../other.git"
            )

    async def _config_values(
        self, repo: Path, pattern: str, *, local: bool = False, file: str | None = None
    ) -> dict[str, str]:
        where = ["--local"] if local else ["--file", file or ".gitmodules"]
        _, found = await self.output(["config", "-z", *where, "--get-regexp", pattern], repo)
        values = {}
        for entry in found.decode(errors="replace").split("\0"):
            key, _, value = entry.partition("\n")
            if key:
                values[key] = value
        return values

    async def ls_remote(self) -> dict[str, str]:
        """The source's refs (``refs/heads/main`` -> commit id)."""
        await self.prepare()
        code, found = await self.output(["ls-remote", "--heads", "--tags", self.source.url], self.root)
        lines = found.decode(errors="replace").splitlines()
        if code != 0:
            reason = " ".join(_quiet(line) for line in lines if line.startswith(("dockyard:", "fatal:")))
            raise StepFailed(
                f"cannot list the refs of {self.source.url}" + (f": {reason[:500]}" if reason else "")
            )
        refs = {}
        for line in lines:
            commit, _, ref = line.partition("\t")
            if ref and not ref.endswith("^{}"):
                refs[ref] = commit
        for line in lines:  # annotated tags: build the commit, not the tag object
            commit, _, ref = line.partition("\t")
            if ref.endswith("^{}"):
                refs[ref[:-3]] = commit
        return refs

    async def step(self, args: list[str], cwd: Path, log: LogWriter, what: str | None = None) -> None:
        code = await self.run(args, cwd, log)
        if code != 0:
            raise StepFailed(f"{what or 'git ' + args[0]} failed (exit status {code})")

    async def run(self, args: list[str], cwd: Path, log: LogWriter) -> int:
        """Run git, its output (stdout and stderr) line by line into ``log``; its exit status."""
        chunks: list[bytes] = []

        def lines(chunk: bytes) -> None:
            chunks.append(chunk)
            *done, rest = re.split(rb"\r?\n|\r", b"".join(chunks))
            chunks[:] = [rest] if len(rest) <= MAX_LINE else []
            for line in [*done, *([rest] if len(rest) > MAX_LINE else [])]:
                log(_quiet(line.decode(errors="replace")))

        code = await self._process(args, cwd, lines)
        if chunks and chunks[0]:
            log(_quiet(chunks[0].decode(errors="replace")))
        return code

    async def output(self, args: list[str], cwd: Path) -> tuple[int, bytes]:
        """Run git for a short answer of its own (a config listing); the status and all output."""
        chunks: list[bytes] = []
        code = await self._process(args, cwd, chunks.append)
        return code, b"".join(chunks)

    async def _process(self, args: list[str], cwd: Path, out: Callable[[bytes], None]) -> int:
        try:
            process = await anyio.open_process(
                [self.settings.git, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, cwd=cwd, env=self.environment(), start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            out(f"cannot run git: {exc}\n".encode())
            return 127
        try:
            assert process.stdout is not None
            async for chunk in process.stdout:
                out(chunk)
            return await process.wait()
        except BaseException:
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            raise


def _quiet(line: str) -> str:
    """git's line without the bytes a non-git server answered (so a build is no port scanner)."""
    return ECHOES.sub(r"\1 (the server did not answer in the git protocol)", line)


def _quote(value: str) -> str:
    if "\n" in value or "\0" in value:
        raise StepFailed("a git setting cannot hold a line break")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _config_text(settings: list[tuple[str, str, str]]) -> str:
    lines = []
    for section, key, value in settings:
        lines += [f"[{section}]", f"\t{key} = {_quote(value)}"]
    return "\n".join(lines) + "\n"


def _private(path: Path, text: str, mode: int = 0o600) -> None:
    path.touch(mode=mode)
    path.chmod(mode)
    path.write_text(text)
