"""Checkouts as tar streams, both ways, without ever following a link the source made.

``tar_stream(root, ...)`` archives a folder for the engine (a build context, or the checkout
copied into a hook's sandbox): symlinks go in as symlinks, never followed, so a link to
``/etc/shadow`` is a link the engine resolves inside its own copy, not the host's file; other
special files are left out. It yields ~1 MiB pieces read on a worker thread: constant memory.

``DockerIgnore`` is the ``.dockerignore`` grammar of Docker's client (moby's patternmatcher):
Go ``filepath.Match`` patterns plus ``**``, anchored at the context root, ``!`` re-includes, the
last matching pattern wins, and a pattern that matches a folder matches everything inside it.

``extract(tar, dest, ...)`` unpacks what a hook's sandbox hands back into a new folder: only
plain files, folders and symlinks (kept as links, never written through), hard links as copies,
no path that climbs out, no set-uid bits, at most ``limit`` bytes.

Modes are git's both ways (``git_mode``): 0755 or 0644, whatever the umask the checkout was
written under.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import stat
import tarfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

import anyio

from dockyard.builds.runtime import StepFailed

CHUNK = 1024 * 1024
BLOCK = tarfile.BLOCKSIZE


def git_mode(st_mode: int) -> int:
    """The mode git would give: 0755 for folders and executables, 0644 for other files. The
    server's umask (077 for Dockyard) or a hook's chmod decides nothing in the image; no set-uid."""
    if stat.S_ISDIR(st_mode) or stat.S_ISLNK(st_mode) or st_mode & 0o111:
        return 0o777 if stat.S_ISLNK(st_mode) else 0o755
    return 0o644


# -- .dockerignore ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    exclusion: bool  # a "!" pattern: re-includes what earlier patterns excluded


def _compile(pattern: str) -> re.Pattern[str]:
    out, i = "^", 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
            out += ".*" if i >= len(pattern) else "(.*/)?"
            continue
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        elif ch in "[]":
            out += ch
        else:
            out += re.escape(ch)
        i += 1
    try:
        return re.compile(out + "$")
    except re.error:
        return re.compile(re.escape(pattern) + "$")


@dataclass(frozen=True)
class DockerIgnore:
    patterns: tuple[_Pattern, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, text: str) -> DockerIgnore:
        patterns = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclusion = line.startswith("!")
            line = line[1:].strip() if exclusion else line
            cleaned = os.path.normpath(line).lstrip("/") if line else ""
            if cleaned in ("", "."):
                continue
            patterns.append(_Pattern(_compile(cleaned), exclusion))
        return cls(tuple(patterns))

    @property
    def has_exclusions(self) -> bool:
        return any(p.exclusion for p in self.patterns)

    def excluded(self, path: str) -> bool:
        """Whether ``path`` (relative, with /) is left out of the context."""
        parents = [str(p) for p in reversed(PurePosixPath(path).parents) if str(p) != "."]
        result = False
        for pattern in self.patterns:
            matched = bool(pattern.regex.match(path)) or any(pattern.regex.match(p) for p in parents)
            if matched:
                result = not pattern.exclusion
        return result


# -- folder -> tar ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TarOptions:
    prefix: str = ""  # put every entry under this folder ("build" for a hook's /build)
    owner: int = 0  # uid and gid of every entry
    ignore: DockerIgnore = field(default_factory=DockerIgnore)
    keep: frozenset[str] = frozenset()  # always sent, even if ignored (the Dockerfile, .dockerignore)
    extra: tuple[tuple[str, Path], ...] = ()  # (name in the archive, regular file to put there)


def _entries(root: Path, options: TarOptions) -> Iterator[tuple[str, Path]]:
    """(name relative to root, path) of everything under root, folders before their contents."""
    stack = [""]
    while stack:
        relative = stack.pop()
        folder = root / relative if relative else root
        with os.scandir(folder) as found:
            names = sorted(entry.name for entry in found)
        for name in reversed(names):
            child = f"{relative}/{name}" if relative else name
            path = root / child
            ignored = options.ignore.excluded(child) and child not in options.keep
            is_dir = stat.S_ISDIR(os.lstat(path).st_mode)
            if not ignored:
                yield child, path
            wanted_inside = any(k.startswith(child + "/") for k in options.keep)
            if is_dir and (not ignored or options.ignore.has_exclusions or wanted_inside):
                stack.append(child)


def _header(name: str, path: Path | None, options: TarOptions) -> tuple[tarfile.TarInfo, Path | None]:
    info = tarfile.TarInfo(name)
    info.uid = info.gid = options.owner
    if path is None:  # the prefix folder itself
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        return info, None
    st = os.lstat(path)
    info.mtime = int(st.st_mtime)
    info.mode = git_mode(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
        return info, None
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        return info, None
    if stat.S_ISREG(st.st_mode):
        info.size = st.st_size
        return info, path
    raise FileNotFoundError(name)  # a socket or fifo: never part of a checkout


def _tar_pieces(root: Path, options: TarOptions) -> Iterator[bytes]:
    pending = bytearray()
    prefix = options.prefix.strip("/")
    top: list[tuple[str, Path | None]] = [(prefix, None)] if prefix else []
    for name, path in itertools.chain(top, _entries(root, options), options.extra):
        full = f"{prefix}/{name}" if prefix and path is not None else name
        try:
            info, content = _header(full, path, options)
        except FileNotFoundError:
            continue
        pending += info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        if content is not None:
            written = 0
            with open(content, "rb", opener=lambda p, f: os.open(p, f | os.O_NOFOLLOW)) as file:
                while written < info.size and (chunk := file.read(min(CHUNK, info.size - written))):
                    pending += chunk
                    written += len(chunk)
                    if len(pending) >= CHUNK:
                        yield bytes(pending)
                        pending.clear()
            pending += b"\0" * (info.size - written)  # the file shrank meanwhile: keep the header true
            pending += b"\0" * (-info.size % BLOCK)
        if len(pending) >= CHUNK:
            yield bytes(pending)
            pending.clear()
    pending += b"\0" * (2 * BLOCK)
    yield bytes(pending)


async def tar_stream(root: Path, options: TarOptions) -> AsyncIterator[bytes]:
    """``root`` as an uncompressed tar, in pieces made on a worker thread."""
    pieces = _tar_pieces(root, options)
    done = object()
    while (piece := await anyio.to_thread.run_sync(next, pieces, done)) is not done:
        assert isinstance(piece, bytes)
        yield piece


# -- tar -> folder ---------------------------------------------------------------------------------


class _Extractor:
    def __init__(self, dest: Path, strip: str, limit: int) -> None:
        self.dest, self.strip, self.limit = dest, strip.strip("/"), limit
        self.total = 0
        self.files: dict[str, Path] = {}

    def relative(self, name: str) -> PurePosixPath | None:
        parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
        if parts and parts[0] == "/":
            parts = parts[1:]
        if self.strip:
            if not parts or parts[0] != self.strip:
                return None
            parts = parts[1:]
        if any(p == ".." for p in parts):
            raise StepFailed(f"the sandbox handed back a path that climbs out of the checkout: {name!r}")
        return PurePosixPath(*parts) if parts else None

    def parent(self, relative: PurePosixPath) -> Path:
        """The real folder for ``relative``'s parent, made if missing; never through a symlink."""
        folder = self.dest
        for part in relative.parts[:-1]:
            folder = folder / part
            if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
                raise StepFailed(f"the sandbox handed back {relative} below a link or file; refused")
            folder.mkdir(mode=0o755, exist_ok=True)
        return folder / relative.name

    def clear(self, path: Path, keep_dir: bool) -> None:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir() and not keep_dir:
            shutil.rmtree(path)

    def member(self, tar: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        relative = self.relative(info.name)
        if relative is None:
            return
        path = self.parent(relative)
        self.clear(path, keep_dir=info.isdir())
        if info.isdir():
            path.mkdir(mode=0o755, exist_ok=True)
        elif info.issym():
            os.symlink(info.linkname, path)
        elif info.isreg():
            self.total += info.size
            if self.total > self.limit:
                raise StepFailed(f"the sandbox handed back more than {self.limit} bytes; refused")
            source = tar.extractfile(info)
            assert source is not None
            self.write(path, source, info.mode)
            self.files[str(relative)] = path
        elif info.islnk():
            target = self.relative(info.linkname)
            original = self.files.get(str(target)) if target else None
            if original is None:
                raise StepFailed(f"the sandbox handed back a hard link to an unknown file: {info.name!r}")
            with original.open("rb") as source:
                self.write(path, source, info.mode)
            self.files[str(relative)] = path
        # devices, fifos and the like are no part of a checkout: left out

    @staticmethod
    def write(path: Path, source: IO[bytes], mode: int) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with open(path, "wb", opener=lambda p, f: os.open(p, flags, 0o600)) as out:
            os.fchmod(out.fileno(), git_mode(stat.S_IFREG | mode))
            shutil.copyfileobj(source, out, CHUNK)


def extract(archive: Path, dest: Path, *, strip: str, limit: int) -> None:
    """Unpack ``archive`` (entries under ``strip/``) into the new folder ``dest``."""
    dest.mkdir(mode=0o700)
    extractor = _Extractor(dest, strip, limit)
    with tarfile.open(archive, mode="r|", encoding="utf-8", errors="surrogateescape") as tar:
        for info in tar:
            extractor.member(tar, info)
