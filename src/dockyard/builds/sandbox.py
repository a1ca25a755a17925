"""The hooks' sandbox: a throw-away container per hook, from the hook image, holding nothing
of the host's.

    image          DOCKYARD_BUILD_HOOK_IMAGE (needs /bin/sh)
    user           65534:65534 (nobody); the checkout is handed in owned by it
    capabilities   all dropped, no-new-privileges, no privileged mode, no devices
    limits         DOCKYARD_BUILD_HOOK_MEMORY_BYTES (swap included), 256 processes
    network        DOCKYARD_BUILD_NETWORK, as for the build's own steps ("none": no network)
    mounts         none: no host folder, no engine socket, no volume of the host's
    environment    Docker Hub's build variables and the rule's variables; nothing of the server's
                   (no DOCKER_HOST, no DOCKER_CONFIG, no push token)

The checkout goes in and comes back out through the engine's archive API (``docker cp``), as a
tar we make and a tar we unpack with care (archive.py): nothing is bind-mounted, so no path in
the container leads to the host. A hook that needs a Docker engine gets none: ``docker`` inside
fails, and the ``build`` and ``push`` hooks are refused before they run (runner.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import anyio

from dockyard.builds.archive import TarOptions, extract, tar_stream
from dockyard.builds.engine import Engine, EngineError
from dockyard.builds.runtime import LogWriter, StepFailed
from dockyard.config import BuildSettings

NOBODY = 65534
MOUNT = "/build"
PIDS_LIMIT = 256


class HookSandbox:
    def __init__(self, engine: Engine, settings: BuildSettings, build_id: int) -> None:
        self.engine = engine
        self.settings = settings
        self.build_id = build_id

    def config(
        self, script: PurePosixPath, workdir: PurePosixPath, env: Mapping[str, str]
    ) -> dict[str, object]:
        network = self.settings.network or "default"
        memory = self.settings.hook_memory_bytes
        return {
            "Image": self.settings.hook_image,
            "Cmd": ["/bin/sh", f"{MOUNT}/{script}"],
            "Entrypoint": [],
            "WorkingDir": f"{MOUNT}/{workdir}".rstrip("/.") or MOUNT,
            "Env": [f"{name}={value}" for name, value in env.items()] + ["HOME=/tmp"],
            "User": f"{NOBODY}:{NOBODY}",
            "Tty": False,
            "OpenStdin": False,
            "NetworkDisabled": network == "none",
            "Labels": {"dockyard.build": str(self.build_id), "dockyard.role": "hook"},
            "HostConfig": {
                "NetworkMode": network,
                "CapDrop": ["ALL"],
                "SecurityOpt": ["no-new-privileges"],
                "Privileged": False,
                "PidsLimit": PIDS_LIMIT,
                "Memory": memory,
                "MemorySwap": memory,
                "IpcMode": "private",
                "Binds": [],
                "Mounts": [],
                "Devices": [],
                "Tmpfs": {"/tmp": "rw,nosuid,nodev,size=64m"},
                "LogConfig": {"Type": "json-file", "Config": {"max-size": "10m"}},
                "AutoRemove": False,
            },
        }

    async def run(
        self, name: str, checkout: Path, script: PurePosixPath, workdir: PurePosixPath,
        env: Mapping[str, str], log: LogWriter, *, hand_back: Path | None,
    ) -> None:  # fmt: skip
        """Run hook ``script`` (relative to the checkout) in ``workdir``; with ``hand_back``, unpack
        the checkout as the hook left it there (a new folder). Raises StepFailed if it fails."""
        log(f"Executing {name} hook (in a sandbox: {self.settings.hook_image}, no engine, no host files)")
        container_name = f"dockyard-hook-{self.build_id}-{name}-{secrets.token_hex(4)}"
        config = self.config(script, workdir, env)
        try:
            try:
                container = await self.engine.create(config, container_name)
            except EngineError as exc:
                if exc.status != 404:
                    raise
                await self._pull_image(log)
                container = await self.engine.create(config, container_name)
        except EngineError as exc:
            raise StepFailed(f"cannot start the {name} hook's sandbox: {exc}") from None
        try:
            await self.engine.put_archive(
                container, "/", tar_stream(checkout, TarOptions(prefix=MOUNT.strip("/"), owner=NOBODY))
            )
            await self.engine.start(container)
            await self.engine.follow_logs(container, log)
            code = await self.engine.wait(container)
            if code != 0:
                raise StepFailed(f"the {name} hook failed (exit status {code})")
            if hand_back is not None:
                await self._hand_back(container, hand_back)
        except EngineError as exc:
            raise StepFailed(f"the {name} hook's sandbox failed: {exc}") from None
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await self.engine.remove_container(container)
                except EngineError:
                    log(f"(could not remove the sandbox container {container_name})")

    async def _pull_image(self, log: LogWriter) -> None:
        """The hook image, pulled anonymously the first time a hook needs it."""
        image, _, tag = self.settings.hook_image.rpartition(":")
        if not image or "/" in tag:
            image, tag = self.settings.hook_image, "latest"
        log(f"Pulling the hook image {self.settings.hook_image}")
        await self.engine.pull(image, tag, {}, lambda _: None)

    async def _hand_back(self, container: str, dest: Path) -> None:
        archive = dest.with_name(dest.name + ".tar")
        limit, size = self.settings.checkout_limit_bytes, 0
        async with await anyio.open_file(archive, "wb") as file:
            async for chunk in self.engine.get_archive(container, MOUNT):
                size += len(chunk)
                if size > limit + limit // 4:  # the tar's headers on top of the files' bytes
                    raise StepFailed(f"the hook left more than {limit} bytes in the checkout")
                await file.write(chunk)
        try:
            await anyio.to_thread.run_sync(
                lambda: extract(archive, dest, strip=MOUNT.strip("/"), limit=limit)
            )
        finally:
            archive.unlink(missing_ok=True)
