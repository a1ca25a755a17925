"""One build, start to end: fetch the exact commit, hooks in their sandbox, build, tag, push.

    gitfetch.py   git on the host, locked down, connections checked (the only host process)
    plan.py       the Dockerfile, context and hooks, resolved inside the checkout
    sandbox.py    each hook in a throw-away container with nothing of the host's
    engine.py     the Docker engine's HTTP API: build, pull, push (no docker CLI)
    archive.py    the checkout as a tar stream (symlinks never followed), and back

Each build has a scratch folder under the data dir, removed afterwards::

    <data_dir>/builds/work/<build id>-<random>/     mode 0700
        git/        git's config, HOME, relay and deploy key (gitfetch.py)
        src/        the checkout; src-1/, src-2/ ... as hooks hand it back

The image is built under ``IMAGE_NAME`` and pushed only once the build succeeded, so a failed
build leaves the registry's tags as they were. Base images are always pulled, with a token for
the linking account's pull rights, so a build never uses an image its account could not pull;
the layer cache comes only from the repository's own previous image (``cachefrom``), pulled
with the build's token. Variables are set as Docker Hub sets them: as build arguments (those
of kind ``arg``, and Docker Hub's own where the Dockerfile declares them) and in the hooks'
environment, never in a host process's. Secret values are masked in the log.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import shutil
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio

from dockyard import netguard
from dockyard.builds import dockerfile as dockerfiles
from dockyard.builds.archive import tar_stream
from dockyard.builds.engine import Engine, EngineError, client
from dockyard.builds.gitfetch import SETTING, GitSession
from dockyard.builds.plan import HOOKS, Plan
from dockyard.builds.records import Job
from dockyard.builds.runtime import MASK, Advance, LogWriter, Masker, RegistryGrant, StepFailed, link_secrets
from dockyard.builds.sandbox import HookSandbox
from dockyard.builds.sources import SourceError, parse
from dockyard.config import BuildSettings, Settings

__all__ = ["MASK", "Masker", "Runner", "StepFailed", "ls_remote", "registry_address", "secret_values"]

VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DOCKER_HUB_VARIABLES = (
    "SOURCE_BRANCH", "SOURCE_COMMIT", "COMMIT_MSG", "DOCKER_REPO", "DOCKER_TAG",
    "DOCKERFILE_PATH", "IMAGE_NAME", "CACHE_TAG", "SOURCE_TYPE",
)  # fmt: skip
OVERRIDE_REFUSED = (
    "hooks/{name} is not supported here: it replaces Dockyard's own {name} with a script that needs "
    "a Docker engine, and hooks run in a sandbox that has none. Remove hooks/{name}: Dockyard builds "
    "the Dockerfile and pushes every tag of the rule itself, with the rule's build arguments; "
    "steps that prepare the source belong in hooks/pre_build."
)


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def git(self) -> Path:
        return self.root / "git"

    def checkout(self, generation: int) -> Path:
        return self.root / ("src" if generation == 0 else f"src-{generation}")


WILDCARD_HOSTS = ("0.0.0.0", "::", "", "localhost")


def registry_address(settings: Settings) -> str:
    """host:port where the build engine reaches this Dockyard to push."""
    if settings.builds.registry:
        return settings.builds.registry
    if settings.public_url:
        return urlsplit(settings.public_url).netloc
    host = "127.0.0.1" if settings.host in WILDCARD_HOSTS else settings.host
    return f"{host}:{settings.port}"


class Runner:
    def __init__(self, settings: BuildSettings, work_dir: Path, registry: str) -> None:
        self.settings = settings
        self.work_dir = work_dir
        self.registry = registry
        # The engine's tags are shared: builds of one repository take turns to set and push them.
        self.tag_locks: defaultdict[str, anyio.Lock] = defaultdict(anyio.Lock)

    async def run(self, job: Job, grant: RegistryGrant, log: LogWriter, advance: Advance) -> str:
        """Build and push ``job``; the pushed digest. Raises StepFailed with the reason."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        workspace = Workspace(self.work_dir / f"{job.build.id}-{secrets.token_hex(4)}")
        workspace.root.mkdir(mode=0o700)
        try:
            async with client(self.settings.docker_host) as http:
                return await Build(self, job, workspace, Engine(http), grant, log).run(advance)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(shutil.rmtree, workspace.root, True)


class Build:
    """The steps of one build, sharing its job, workspace, engine and log."""

    def __init__(
        self, runner: Runner, job: Job, ws: Workspace, engine: Engine, grant: RegistryGrant, log: LogWriter
    ) -> None:
        self.settings, self.registry = runner.settings, runner.registry
        self.job, self.ws, self.engine, self.grant, self.log = job, ws, engine, grant, log
        self.repo = f"{self.registry}/{job.build.repository}"
        self.image = f"{self.repo}:{job.build.tags[0]}"
        # The engine knows the build by names of its own, so concurrent builds never share a tag.
        self.built = f"{self.repo}:dockyard-build-{job.build.id}-{secrets.token_hex(3)}"
        self.cache_name = f"{self.repo}:dockyard-cache-{job.build.id}-{secrets.token_hex(3)}"
        self.tag_lock = runner.tag_locks[self.repo]
        self.sandbox = HookSandbox(engine, self.settings, job.build.id)
        self.generation = 0
        self.leftovers: list[str] = []

    async def run(self, advance: Advance) -> str:
        build = self.job.build
        git = GitSession.for_url(self.settings, self.ws.git, self.job.source_url, self.job.credentials)
        await git.fetch(build.commit, self.ws.checkout(0), self.log)
        plan = await self._plan()
        self._check_hooks(plan)
        if "pre_build" in plan.hooks:
            plan = await self._hook(plan, "pre_build")
        try:
            await self._build(plan)
            if "post_build" in plan.hooks:
                plan = await self._hook(plan, "post_build")
            await advance("pushing")
            if "pre_push" in plan.hooks:
                plan = await self._hook(plan, "pre_push")
            digest = await self._push()
            if "post_push" in plan.hooks:
                await self._hook(plan, "post_push")
        finally:
            with anyio.CancelScope(shield=True):
                await self._clean_up()
        if not digest:
            raise StepFailed("the push did not report a digest")
        return digest

    # -- the source -------------------------------------------------------------------------------

    async def _plan(self) -> Plan:
        build = self.job.build
        return await anyio.to_thread.run_sync(
            Plan.of, self.ws.checkout(self.generation), build.context, build.dockerfile
        )

    def _check_hooks(self, plan: Plan) -> None:
        if not plan.hooks:
            return
        if self.settings.hooks == "off":
            names = ", ".join(f"hooks/{h}" for h in plan.hooks)
            raise StepFailed(
                f"this source has {names}, but hooks are turned off on this server "
                "(DOCKYARD_BUILD_HOOKS=off); remove the hooks folder to build it here"
            )
        for name in ("build", "push"):
            if name in plan.hooks:
                self.log(OVERRIDE_REFUSED.format(name=name))
                raise StepFailed(f"hooks/{name} is not supported (hooks have no Docker engine); see the log")

    def _environment(self) -> dict[str, str]:
        """Docker Hub's variables and the rule's: for the hooks' sandbox and the build arguments only."""
        build = self.job.build
        env = {
            "SOURCE_BRANCH": build.source_ref, "SOURCE_COMMIT": build.commit,
            "COMMIT_MSG": build.commit_message, "DOCKER_REPO": self.repo, "DOCKER_TAG": build.tags[0],
            "DOCKERFILE_PATH": build.dockerfile, "IMAGE_NAME": self.image, "CACHE_TAG": build.tags[0],
            "SOURCE_TYPE": "git",
        }  # fmt: skip
        for variable in self.job.variables:
            if not VARIABLE_NAME.match(variable.name):
                raise StepFailed(f"{variable.name!r} is not a variable name")
            env[variable.name] = variable.value
        return env

    async def _hook(self, plan: Plan, name: str) -> Plan:
        later = HOOKS[HOOKS.index(name) + 1 :]
        hand_back = name == "pre_build" or any(h in plan.hooks for h in later)  # the build, a later hook
        dest = self.ws.checkout(self.generation + 1) if hand_back else None
        await self.sandbox.run(
            name,
            plan.root,
            plan.hooks_dir / name,
            plan.workdir,
            self._environment(),
            self.log,
            hand_back=dest,
        )
        if dest is None:
            return plan
        self.generation += 1
        return await self._plan()

    # -- build --------------------------------------------------------------------------------

    async def _build(self, plan: Plan) -> None:
        text = await anyio.to_thread.run_sync(plan.dockerfile_text)
        env = self._environment()
        declared = dockerfiles.declared_args(text)
        args = {n: env[n] for n in DOCKER_HUB_VARIABLES if n in declared}
        args |= {v.name: v.value for v in self.job.variables if v.kind == "arg"}
        auths = await self._pull_auths(dockerfiles.references(text, args))
        params = {
            "t": self.built, "dockerfile": plan.dockerfile_name, "buildargs": json.dumps(args),
            "rm": "1", "forcerm": "1", "pull": "1",
        }  # fmt: skip
        if self.settings.network:
            params["networkmode"] = self.settings.network
        if self.settings.memory_bytes:
            params["memory"] = params["memswap"] = str(self.settings.memory_bytes)
        params |= await self._cache()
        self.log(f"Building {self.image} from {self.job.build.dockerfile}")
        context = tar_stream(plan.context, await anyio.to_thread.run_sync(plan.tar_options))
        try:
            await self.engine.build(context, params, auths, self.log)
        except EngineError as exc:
            self.log(str(exc))
            raise StepFailed(f"docker build failed: {exc}") from None

    async def _pull_auths(self, refs: dockerfiles.References) -> dict[str, Any]:
        """Base images: this registry's with the account's pull token; others only if public."""
        if refs.urls:
            raise StepFailed(
                f"ADD {refs.urls[0]} is refused: the engine would download it from the server's own "
                "network; download it in a RUN step instead"
            )
        mine: list[str] = []
        for image in refs.images:
            domain = dockerfiles.image_domain(image)
            if domain == self.registry.lower():
                mine.append(dockerfiles.image_repository(image))
            elif domain is not None:
                await self._check_registry(image, domain)
        token = await self.grant.pull(sorted(set(mine))) if mine else None
        return {self.registry: {"registrytoken": token}} if token else {}

    async def _check_registry(self, image: str, domain: str) -> None:
        try:
            parts = urlsplit(f"//{domain}")
            host, port = parts.hostname or domain, parts.port or 443
            await netguard.resolve(
                host, port, allow_private=self.settings.allow_private_sources, setting=SETTING
            )
        except (netguard.OutboundError, ValueError) as exc:
            raise StepFailed(f"the base image {image} is refused: {exc}") from None

    async def _cache(self) -> dict[str, str]:
        """Cache only from this repository's own last image, pulled as the build's account."""
        if not self.job.build_cache:
            return {"nocache": "1"}
        async with self.tag_lock:
            try:
                await self.engine.pull(self.repo, self.job.build.tags[0], self._push_auth(), lambda _: None)
                await self.engine.tag(self.image, *self.cache_name.rsplit(":", 1))
            except EngineError:
                self.log(f"No earlier {self.image} to take the layer cache from; building without it")
                return {"nocache": "1"}
            finally:
                await self.engine.remove_image(self.image)
        self.leftovers.append(self.cache_name)
        self.log(f"Using the layer cache of the previous {self.image}")
        return {"cachefrom": json.dumps([self.cache_name])}

    # -- push ---------------------------------------------------------------------------------

    def _push_auth(self) -> dict[str, str]:
        return {"registrytoken": self.grant.push} if self.grant.push else {}

    async def _push(self) -> str:
        """Tag and push each tag, one repository's builds at a time; the tags are untagged after."""
        digest = ""
        async with self.tag_lock:
            try:
                for tag in self.job.build.tags:
                    await self.engine.tag(self.built, self.repo, tag)
                    self.log(f"Pushing {self.repo}:{tag}")
                    digest = await self.engine.push(self.repo, tag, self._push_auth(), self.log) or digest
            except EngineError as exc:
                self.log(str(exc))
                raise StepFailed(f"docker push failed: {exc}") from None
            finally:
                with anyio.CancelScope(shield=True):
                    for tag in dict.fromkeys(self.job.build.tags):
                        with contextlib.suppress(EngineError, OSError):
                            await self.engine.remove_image(f"{self.repo}:{tag}")
        return digest

    async def _clean_up(self) -> None:
        for image in (self.built, *self.leftovers):
            with contextlib.suppress(EngineError, OSError):
                await self.engine.remove_image(image)


def secret_values(job: Job) -> list[str]:
    """What the log masks: secret variables, the link's password and key, credentials in its URL."""
    values = [v.value for v in job.variables if v.secret]
    values += link_secrets(job.credentials)
    with contextlib.suppress(SourceError):
        values += link_secrets(parse(job.source_url).credentials)
    return values


async def ls_remote(
    settings: BuildSettings, work_dir: Path, url: str, credentials: Mapping[str, str]
) -> dict[str, str]:
    """The source's refs (``refs/heads/main`` -> commit id), with the link's credentials."""
    work_dir.mkdir(parents=True, exist_ok=True)
    root = work_dir / f"ls-remote-{secrets.token_hex(4)}"
    root.mkdir(mode=0o700)
    try:
        return await GitSession.for_url(settings, root / "git", url, credentials).ls_remote()
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(shutil.rmtree, root, True)
