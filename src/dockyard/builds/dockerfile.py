"""What a Dockerfile asks of the outside world, read before the engine sees it.

The engine does the real parsing; this reads just enough to prepare and police the build:

    declared_args(text)     the ARG names (Docker Hub's variables go in only where declared)
    references(text, args)  the images the build pulls (FROM, COPY --from) and the URLs ADD would
                            download, with ARG and ENV values substituted as the engine does

The images decide which repositories the pull token covers (a name this misses is pulled with
no right to it, and fails: safe). ``ADD <url>`` is refused by the runner: the engine downloads
it from the host's own network, where the build network setting does not apply.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

DIRECTIVE = re.compile(r"^#\s*([a-zA-Z]+)\s*=\s*(.+?)\s*$")
VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions(text: str) -> Iterator[Instruction]:
    """The instructions, continuation lines joined, comments dropped."""
    escape = "\\"
    lines = text.splitlines()
    start = 0
    while start < len(lines) and (directive := DIRECTIVE.match(lines[start])):  # only at the very top
        if directive.group(1).lower() == "escape" and directive.group(2) in ("`", "\\"):
            escape = directive.group(2)
        start += 1
    pending = ""
    for line in lines[start:]:
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith(escape):
            pending += stripped[:-1] + " "
            continue
        whole = (pending + stripped).strip()
        pending = ""
        if whole:
            keyword, _, arguments = whole.partition(" ")
            yield Instruction(keyword.upper(), arguments.strip())
    if pending.strip():
        keyword, _, arguments = pending.strip().partition(" ")
        yield Instruction(keyword.upper(), arguments.strip())


def _words(arguments: str) -> list[str]:
    if arguments.startswith("["):
        try:
            found = json.loads(arguments)
            if isinstance(found, list) and all(isinstance(w, str) for w in found):
                return found
        except ValueError:
            pass
    try:
        return shlex.split(arguments, posix=True)
    except ValueError:
        return arguments.split()


def _assignments(arguments: str) -> list[tuple[str, str | None]]:
    """``A=1 B`` (ARG) or ``A=1 B=2`` / ``A 1`` (ENV) as (name, value or None)."""
    words = _words(arguments)
    if len(words) >= 2 and "=" not in words[0]:  # ENV NAME value with spaces
        return [(words[0], " ".join(words[1:]))]
    found: list[tuple[str, str | None]] = []
    for word in words:
        name, sep, value = word.partition("=")
        found.append((name, value if sep else None))
    return found


def substitute(word: str, values: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        value = values.get(name)
        if match.group(2) == "-":
            return value if value else match.group(3)
        if match.group(2) == "+":
            return match.group(3) if value else ""
        return value or ""

    return VARIABLE.sub(one, word)


def declared_args(text: str) -> set[str]:
    names = set()
    for instruction in instructions(text):
        if instruction.keyword == "ARG":
            names |= {name for name, _ in _assignments(instruction.arguments) if NAME.match(name)}
    return names


@dataclass
class References:
    images: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)


def _flags(words: list[str]) -> tuple[dict[str, str], list[str]]:
    flags: dict[str, str] = {}
    rest: list[str] = []
    for word in words:
        if word.startswith("--") and not rest:
            name, _, value = word[2:].partition("=")
            flags[name.lower()] = value
        else:
            rest.append(word)
    return flags, rest


def references(text: str, build_args: Mapping[str, str]) -> References:
    """Images pulled and URLs downloaded, variables substituted; each variable's every known value
    is also tried on ADD sources, so no scoping subtlety hides a URL."""
    found = References()
    meta: dict[str, str] = {}
    stage: dict[str, str] = {}
    stages: set[str] = set()
    every: dict[str, set[str]] = {name: {value} for name, value in build_args.items()}
    in_stage = False
    for instruction in instructions(text):
        keyword, arguments = instruction.keyword, instruction.arguments
        if keyword in ("ARG", "ENV"):
            scope = stage if in_stage else meta
            for name, value in _assignments(arguments):
                if keyword == "ARG":
                    value = build_args.get(name, value if value is not None else meta.get(name))
                value = substitute(value or "", {**meta, **stage}) if value is not None else None
                if value is not None:
                    scope[name] = value
                    every.setdefault(name, set()).add(value)
        elif keyword == "FROM":
            _, words = _flags(_words(substitute(arguments, meta)))
            if words:
                found.images.append(words[0])
            if len(words) >= 3 and words[1].lower() == "as":
                stages.add(words[2].lower())
            in_stage, stage = True, {}
        elif keyword in ("COPY", "ADD"):
            flags, words = _flags(_words(arguments))
            source = substitute(flags.get("from", ""), {**meta, **stage})
            if source and source.lower() not in stages and not source.isdigit():
                found.images.append(source)
            if keyword == "ADD":
                found.urls += [w for w in words[:-1] if _may_be_url(w, {**meta, **stage}, every)]
    found.images = [i for i in dict.fromkeys(found.images) if i.lower() not in stages and i != "scratch"]
    return found


def _may_be_url(word: str, values: Mapping[str, str], every: Mapping[str, set[str]]) -> bool:
    if "://" in word or "://" in substitute(word, values):
        return True
    names = {m.group(1) or m.group(4) for m in VARIABLE.finditer(word)}
    return any("://" in value for name in names for value in every.get(name, ()))


def image_domain(image: str) -> str | None:
    """The registry host[:port] an image reference names, None for Docker Hub's default."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first.lower()
    return None


def image_repository(image: str) -> str:
    """The repository path of a reference: no registry, tag or digest."""
    path = image.split("/", 1)[1] if image_domain(image) else image
    path = path.split("@", 1)[0]
    name, _, tag = path.rpartition(":")
    return (name if name and "/" not in tag else path).lower()
