"""One build, start to end: fetch the exact commit, ``docker build``, tag and push every tag.

Everything runs through the real ``git`` and ``docker`` clients (the engine is ``DOCKER_HOST``'s),
each in a scratch folder under the data dir that is removed afterwards::

    <data_dir>/builds/work/<build id>-<random>/
        src/            the checkout (git init + fetch of one commit)
        docker/         DOCKER_CONFIG: config.json with a push token for this repository only
        ssh/            a deploy key and known_hosts, when the link has one

The image is built under ``IMAGE_NAME`` and pushed only once the build succeeded, so a failed
build leaves the registry's tags as they were. Variables are set as Docker Hub sets them, as
build arguments (``--build-arg NAME``, value from the environment, so never on a command line)
and in the environment of the hooks (``hooks/pre_build``, ``build``, ``post_build``,
``pre_push``, ``push``, ``post_push`` beside the Dockerfile). Secret values are masked in the log.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import anyio

from dockyard.builds.config import BuildSettings
from dockyard.builds.records import Job

PUSH_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
MASK = "********"
DECLARED_ARG = re.compile(r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE | re.MULTILINE)
HOOKS = ("pre_build", "build", "post_build", "pre_push", "push", "post_push")

LogWriter = Callable[[str], None]
Advance = Callable[[str], Awaitable[None]]


class StepFailed(Exception):
    """A step of the build failed; the message is the reason shown with the build."""


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def docker_config(self) -> Path:
        return self.root / "docker"

    @property
    def ssh(self) -> Path:
        return self.root / "ssh"


class Masker:
    """Replaces every secret value in a log line."""

    def __init__(self, values: Sequence[str]) -> None:
        self.values = sorted({v for v in values if len(v) >= 3}, key=len, reverse=True)

    def __call__(self, line: str) -> str:
        for value in self.values:
            line = line.replace(value, MASK)
        return line


class Runner:
    def __init__(self, settings: BuildSettings, work_dir: Path, registry: str) -> None:
        self.settings = settings
        self.work_dir = work_dir
        self.registry = registry

    async def run(self, job: Job, push_token: str | None, log: LogWriter, advance: Advance) -> str:
        """Build and push ``job``; the pushed digest. Raises StepFailed with the reason."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        workspace = Workspace(self.work_dir / f"{job.build.id}-{secrets.token_hex(4)}")
        workspace.root.mkdir(mode=0o700)
        try:
            return await self._run(job, workspace, push_token, log, advance)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(shutil.rmtree, workspace.root, True)

    async def _run(
        self, job: Job, ws: Workspace, push_token: str | None, log: LogWriter, advance: Advance
    ) -> str:
        build = job.build
        repo = f"{self.registry}/{build.repository}"
        image = f"{repo}:{build.tags[0]}"
        self._write_docker_config(ws, push_token)
        env = self._environment(job, ws, repo, image)
        await self._fetch(job, ws, log)

        context = _inside(ws.src, build.context)  # from the source's root
        dockerfile = _inside(context, build.dockerfile)  # from the context, as on Docker Hub
        hooks = dockerfile.parent / "hooks"
        if not dockerfile.is_file():
            raise StepFailed(f"no Dockerfile at {build.context}/{build.dockerfile} in {build.commit[:12]}")
        await self._hook(hooks, "pre_build", env, context, log)
        if not await self._hook(hooks, "build", env, context, log):
            await self._docker_build(job, dockerfile, context, image, env, log)
        await self._hook(hooks, "post_build", env, context, log)

        await advance("pushing")
        await self._hook(hooks, "pre_push", env, context, log)
        digest = ""
        try:
            if await self._hook(hooks, "push", env, context, log):
                digest = await self._digest_of(image, env, log)
            else:
                for tag in build.tags:
                    target = f"{repo}:{tag}"
                    if target != image:
                        await self._step([self.settings.docker, "tag", image, target], env, ws.root, log)
                    digest = await self._push(target, env, ws.root, log) or digest
            await self._hook(hooks, "post_push", env, context, log)
        finally:
            with anyio.CancelScope(shield=True):
                await self._remove_images([f"{repo}:{t}" for t in build.tags], env, ws.root)
        if not digest:
            raise StepFailed("the push did not report a digest")
        return digest

    # -- steps ------------------------------------------------------------------------------

    async def _fetch(self, job: Job, ws: Workspace, log: LogWriter) -> None:
        git, commit = self.settings.git, job.build.commit
        env = self._git_environment(job.credentials, ws)
        log(f"Fetching {commit} ({job.build.source_type} {job.build.source_ref}) from {job.source_url}")
        await self._step([git, "init", "-q", str(ws.src)], env, ws.root, log)
        await self._step([git, "remote", "add", "origin", job.source_url], env, ws.src, log)
        if await self._command([git, "fetch", "-q", "--depth=1", "origin", commit], env, ws.src, log) != 0:
            log("Fetching the commit by id failed; fetching all branches and tags instead")
            refspecs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
            await self._step([git, "fetch", "-q", "origin", *refspecs], env, ws.src, log, "git fetch")
        await self._step([git, "checkout", "-q", "--detach", commit], env, ws.src, log, "git checkout")
        if (ws.src / ".gitmodules").is_file():
            await self._step(
                [git, "submodule", "update", "-q", "--init", "--recursive", "--depth=1"], env, ws.src, log
            )

    async def _docker_build(
        self, job: Job, dockerfile: Path, context: Path, image: str, env: Mapping[str, str], log: LogWriter
    ) -> None:
        # --force-rm: a failed step leaves no intermediate container behind on the engine.
        command = [self.settings.docker, "build", "--force-rm", "-f", str(dockerfile), "-t", image]
        if not job.build_cache:
            command += ["--no-cache", "--pull"]
        if self.settings.network:
            command += ["--network", self.settings.network]
        # Docker Hub's variables go in where the Dockerfile declares them (no "not consumed" warning).
        declared = set(DECLARED_ARG.findall(dockerfile.read_text(errors="replace")))
        names = [*(n for n in DOCKER_HUB_VARIABLES if n in declared)]
        names += [v.name for v in job.variables if v.kind == "arg"]
        for name in dict.fromkeys(names):
            command += ["--build-arg", name]
        command.append(str(context))
        log(f"Building {image} from {job.build.dockerfile}")
        await self._step(command, env, context, log, "docker build")

    async def _push(self, target: str, env: Mapping[str, str], cwd: Path, log: LogWriter) -> str:
        lines: list[str] = []

        def both(line: str) -> None:
            lines.append(line)
            log(line)

        log(f"Pushing {target}")
        await self._step([self.settings.docker, "push", target], env, cwd, both, "docker push")
        found = [m.group(1) for line in lines if (m := PUSH_DIGEST.search(line))]
        return found[-1] if found else ""

    async def _digest_of(self, image: str, env: Mapping[str, str], log: LogWriter) -> str:
        lines: list[str] = []
        command = [self.settings.docker, "image", "inspect", "--format", "{{json .RepoDigests}}", image]
        await self._command(command, env, None, lines.append)
        with contextlib.suppress(ValueError, IndexError):
            return str(json.loads(lines[0])[0]).rpartition("@")[2]
        return ""

    async def _remove_images(self, images: list[str], env: Mapping[str, str], cwd: Path) -> None:
        await self._command([self.settings.docker, "rmi", *dict.fromkeys(images)], env, cwd, lambda _: None)

    async def _hook(self, hooks: Path, name: str, env: Mapping[str, str], cwd: Path, log: LogWriter) -> bool:
        """Run ``hooks/<name>`` if the source has it; whether it did."""
        script = hooks / name
        if not script.is_file():
            return False
        log(f"Executing {name} hook")
        await self._step(["/bin/sh", str(script)], env, cwd, log, f"the {name} hook")
        return True

    async def _step(
        self,
        command: list[str],
        env: Mapping[str, str],
        cwd: Path,
        log: LogWriter,
        what: str | None = None,
    ) -> None:
        code = await self._command(command, env, cwd, log)
        if code != 0:
            raise StepFailed(f"{what or ' '.join(command[:2])} failed (exit status {code})")

    async def _command(
        self, command: list[str], env: Mapping[str, str], cwd: Path | None, log: LogWriter
    ) -> int:
        """Run one command, its output (stdout and stderr) line by line into ``log``; its exit status."""
        try:
            process = await anyio.open_process(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                cwd=cwd, env=dict(env),
            )  # fmt: skip
        except OSError as exc:
            log(f"cannot run {command[0]}: {exc}")
            return 127
        try:
            assert process.stdout is not None
            pending = b""
            async for chunk in process.stdout:
                pending += chunk
                *lines, pending = re.split(rb"\r?\n|\r", pending)
                for line in lines:
                    log(line.decode(errors="replace"))
            if pending:
                log(pending.decode(errors="replace"))
            return await process.wait()
        except BaseException:
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            raise

    # -- environment ------------------------------------------------------------------------

    def _environment(self, job: Job, ws: Workspace, repo: str, image: str) -> dict[str, str]:
        build = job.build
        env = {
            key: value
            for key, value in os.environ.items()
            if key in ("PATH", "HOME", "LANG", "TMPDIR") or key.startswith("DOCKER_")
        }
        env |= {
            "DOCKER_CONFIG": str(ws.docker_config),
            "DOCKER_BUILDKIT": "1" if self.settings.builder == "buildkit" else "0",
            "SOURCE_BRANCH": build.source_ref,
            "SOURCE_COMMIT": build.commit,
            "COMMIT_MSG": build.commit_message,
            "DOCKER_REPO": repo,
            "DOCKER_TAG": build.tags[0],
            "DOCKERFILE_PATH": build.dockerfile,
            "IMAGE_NAME": image,
            "CACHE_TAG": build.tags[0],
            "SOURCE_TYPE": "git",
        }
        env |= {v.name: v.value for v in job.variables}
        return env

    def _git_environment(self, credentials: Mapping[str, str], ws: Workspace) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        env |= {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_ASKPASS": "/bin/false"}
        env["GIT_ALLOW_PROTOCOL"] = "https:http:ssh:git:file"  # never ext:: (runs commands)
        if credentials.get("username") or credentials.get("password"):
            basic = f"{credentials.get('username', '')}:{credentials.get('password', '')}"
            # Through the environment, never the command line: other users can read that.
            env |= {
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.extraHeader",
                "GIT_CONFIG_VALUE_0": "Authorization: Basic " + base64.b64encode(basic.encode()).decode(),
            }
        if credentials.get("ssh_key"):
            ws.ssh.mkdir(mode=0o700)
            key = ws.ssh / "id"
            key.touch(mode=0o600)
            key.write_text(credentials["ssh_key"].strip() + "\n")
            env["GIT_SSH_COMMAND"] = (
                f"ssh -i {key} -o IdentitiesOnly=yes -o BatchMode=yes "
                f"-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={ws.ssh / 'known_hosts'}"
            )
        return env

    def _write_docker_config(self, ws: Workspace, push_token: str | None) -> None:
        ws.docker_config.mkdir(mode=0o700)
        auths = {self.registry: {"registrytoken": push_token}} if push_token else {}
        path = ws.docker_config / "config.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps({"auths": auths}))


DOCKER_HUB_VARIABLES = (
    "SOURCE_BRANCH", "SOURCE_COMMIT", "COMMIT_MSG", "DOCKER_REPO", "DOCKER_TAG",
    "DOCKERFILE_PATH", "IMAGE_NAME", "CACHE_TAG", "SOURCE_TYPE",
)  # fmt: skip


def secret_values(job: Job) -> list[str]:
    values = [v.value for v in job.variables if v.secret]
    values += [v for k, v in job.credentials.items() if k in ("password", "ssh_key") and v]
    return values


def _inside(root: Path, relative: str) -> Path:
    """``relative`` under ``root``; a path that climbs out of the checkout is refused."""
    parts = PurePosixPath(relative or ".").parts
    if any(part == ".." for part in parts) or PurePosixPath(relative or ".").is_absolute():
        raise StepFailed(f"{relative!r} is outside the source")
    return root.joinpath(*parts)


async def ls_remote(
    settings: BuildSettings, work_dir: Path, url: str, credentials: Mapping[str, str]
) -> dict[str, str]:
    """The source's refs (``refs/heads/main`` -> commit id), with the link's credentials."""
    runner = Runner(settings, work_dir, "")
    work_dir.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(work_dir / f"ls-remote-{secrets.token_hex(4)}")
    workspace.root.mkdir(mode=0o700)
    lines: list[str] = []
    try:
        env = runner._git_environment(credentials, workspace)
        command = [settings.git, "ls-remote", "--heads", "--tags", url]
        if await runner._command(command, env, workspace.root, lines.append) != 0:
            raise StepFailed(f"cannot list the refs of {url}: {' '.join(lines)[-500:]}")
    finally:
        await anyio.to_thread.run_sync(shutil.rmtree, workspace.root, True)
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
