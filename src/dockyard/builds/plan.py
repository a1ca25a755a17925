"""Where the build's files are: the context, the Dockerfile and the hooks, inside the checkout.

The rule names them as paths relative to the source (the context) and to the context (the
Dockerfile, as on Docker Hub). Both are resolved with every symlink followed, and must land
inside the checkout: a Dockerfile or context that is a link to ``/etc`` or ``../../secret`` fails
the build before a byte of it is read. Files the Dockerfile names (COPY, ADD) are resolved by the
engine inside the context it receives, where links stay links (archive.py).

Hooks live in ``hooks/`` beside the Dockerfile as the rule names it. They are only looked at
here (do they exist?), never read or run on the host: they run in the sandbox, where a link
resolves inside the container's own copy.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dockyard.builds.archive import DockerIgnore, TarOptions
from dockyard.builds.runtime import StepFailed

HOOKS = ("pre_build", "build", "post_build", "pre_push", "push", "post_push")
MAX_DOCKERFILE = 1024 * 1024
MAX_DOCKERIGNORE = 1024 * 1024


def relative(text: str, what: str) -> PurePosixPath:
    """A rule's path as relative parts; one that is absolute or climbs with ``..`` is refused."""
    path = PurePosixPath(text or ".")
    if path.is_absolute() or ".." in path.parts:
        raise StepFailed(f"the {what} {text!r} is outside the source")
    return path


def _inside(root: Path, path: Path, text: str, what: str) -> Path:
    try:
        real = path.resolve()
    except (OSError, RuntimeError):
        raise StepFailed(f"the {what} {text!r} cannot be resolved (a symlink loop?)") from None
    if real != root and not real.is_relative_to(root):
        raise StepFailed(f"the {what} {text!r} is a symlink that leads out of the source; refused")
    return real


@dataclass(frozen=True)
class Plan:
    root: Path  # the checkout, real path
    context: Path  # real, inside root
    dockerfile: Path  # real, inside root, a regular file
    workdir: PurePosixPath  # the context as the rule names it, from the root (for the hooks)
    hooks_dir: PurePosixPath  # hooks/ beside the Dockerfile as the rule names it, from the root
    hooks: tuple[str, ...]  # the hooks the source has
    extra_name: str  # the Dockerfile's name in the context when it lives outside it

    @classmethod
    def of(cls, checkout: Path, context: str, dockerfile: str) -> Plan:
        root = checkout.resolve()
        context_rel = relative(context, "build context")
        dockerfile_rel = relative(dockerfile, "Dockerfile")
        real_context = _inside(root, root.joinpath(*context_rel.parts), context, "build context")
        if not real_context.is_dir():
            raise StepFailed(f"there is no folder {context!r} in the source")
        named = root.joinpath(*context_rel.parts, *dockerfile_rel.parts)
        real_dockerfile = _inside(root, named, dockerfile, "Dockerfile")
        if not real_dockerfile.is_file():
            raise StepFailed(f"no Dockerfile at {context}/{dockerfile} in the source")
        hooks_dir = context_rel / dockerfile_rel.parent / "hooks"
        found = tuple(h for h in HOOKS if os.path.lexists(root.joinpath(*hooks_dir.parts, h)))
        return cls(root, real_context, real_dockerfile, context_rel, hooks_dir, found,
                   f".dockyard-dockerfile-{secrets.token_hex(4)}")  # fmt: skip

    @property
    def dockerfile_name(self) -> str:
        """The Dockerfile's path inside the context sent to the engine."""
        if self.dockerfile.is_relative_to(self.context):
            return self.dockerfile.relative_to(self.context).as_posix()
        return self.extra_name

    def dockerfile_text(self) -> str:
        if self.dockerfile.stat().st_size > MAX_DOCKERFILE:
            raise StepFailed(f"the Dockerfile is larger than {MAX_DOCKERFILE} bytes")
        return self.dockerfile.read_text(errors="replace")

    def tar_options(self) -> TarOptions:
        """The context as the engine gets it: .dockerignore honoured, the Dockerfile always in."""
        ignore = self.context / ".dockerignore"
        rules = DockerIgnore()
        if ignore.is_file() and not ignore.is_symlink() and ignore.stat().st_size <= MAX_DOCKERIGNORE:
            rules = DockerIgnore.parse(ignore.read_text(errors="replace"))
        keep = frozenset({".dockerignore", self.dockerfile_name})
        extra = () if self.dockerfile.is_relative_to(self.context) else ((self.extra_name, self.dockerfile),)
        return TarOptions(ignore=rules, keep=keep, extra=extra)
