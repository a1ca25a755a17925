"""What an image's config blob says, as the image page shows it: its layers with the Dockerfile
instruction that made each (from the config's ``history``) and the run settings (env, entrypoint,
cmd, exposed ports, labels).

Everything here reads JSON that anyone who can push wrote, so every field is checked for its type
and anything else is skipped, never trusted: a config is only ever shown, as text. ``history``
lists every instruction, those that made no layer too (``empty_layer``); the layers of the
manifest line up, in order, with the entries that made one.

    "/bin/sh -c #(nop)  CMD [\"sh\"]"            -> CMD ["sh"]          (the classic builder)
    "/bin/sh -c apk add curl"                    -> RUN apk add curl
    "|1 VERSION=2 /bin/sh -c make"               -> RUN make            (classic, with build args)
    "RUN /bin/sh -c make # buildkit"             -> RUN /bin/sh -c make (BuildKit writes the form)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.registry.records import Descriptor

MAX_INSTRUCTION = 4000  # characters of one instruction shown; a longer one is cut with "…"
MAX_ITEMS = 500  # env entries, labels, ports, history entries read from one config
_NOP = "/bin/sh -c #(nop) "
_SHELL = "/bin/sh -c "
_BUILD_ARGS = re.compile(r"\|\d+ (?:\S+=\S* )*/bin/sh -c (.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Layer:
    """One history entry: its instruction, and its layer when it made one."""

    instruction: str  # "" when the config has no history for this layer
    digest: str | None  # None: the instruction made no layer (ENV, CMD, ...)
    size: int | None  # compressed, as the manifest lists it
    media_type: str | None


@dataclass(frozen=True, slots=True)
class RunConfig:
    env: tuple[str, ...]
    entrypoint: tuple[str, ...] | None
    cmd: tuple[str, ...] | None
    exposed_ports: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    working_dir: str
    user: str
    created: str  # as the config says it (RFC 3339), or ""

    @property
    def empty(self) -> bool:
        return not (self.env or self.entrypoint or self.cmd or self.exposed_ports or self.labels)


def instruction(created_by: str) -> str:
    """The Dockerfile instruction a history entry's ``created_by`` stands for."""
    text = created_by.strip()
    if text.endswith("# buildkit"):
        text = text[: -len("# buildkit")].rstrip()
    if text.startswith(_NOP):
        text = text[len(_NOP) :].strip()
    elif text.startswith(_SHELL):
        text = "RUN " + text[len(_SHELL) :]
    elif (found := _BUILD_ARGS.fullmatch(text)) is not None:
        text = "RUN " + found.group(1)
    return text if len(text) <= MAX_INSTRUCTION else text[: MAX_INSTRUCTION - 1] + "…"


def layers(config: dict[str, Any] | None, descriptors: Sequence[Descriptor]) -> list[Layer]:
    """History entries paired with the manifest's layers. Without a usable history each layer is
    listed alone; layers the history does not account for follow at the end."""
    remaining = list(descriptors)
    result: list[Layer] = []
    history = _list(config.get("history")) if config else []
    for entry in history[:MAX_ITEMS]:
        if not isinstance(entry, dict):
            continue
        text = instruction(entry["created_by"]) if isinstance(entry.get("created_by"), str) else ""
        if entry.get("empty_layer") is True or not remaining:
            if text:
                result.append(Layer(text, None, None, None))
            continue
        layer = remaining.pop(0)
        result.append(Layer(text, layer.digest, layer.size, layer.media_type))
    result.extend(Layer("", d.digest, d.size, d.media_type) for d in remaining)
    return result


def run_config(config: dict[str, Any]) -> RunConfig:
    """The ``config`` section of an image config (Docker's and OCI's share it)."""
    section = config.get("config")
    if not isinstance(section, dict):
        section = {}
    ports = section.get("ExposedPorts")
    labels = section.get("Labels")
    return RunConfig(
        env=tuple(_strings(section.get("Env"))),
        entrypoint=_command(section.get("Entrypoint")),
        cmd=_command(section.get("Cmd")),
        exposed_ports=tuple(sorted(k for k in ports if isinstance(k, str))[:MAX_ITEMS])
        if isinstance(ports, dict)
        else (),
        labels=tuple(
            sorted((k, v) for k, v in labels.items() if isinstance(k, str) and isinstance(v, str))[:MAX_ITEMS]
        )
        if isinstance(labels, dict)
        else (),
        working_dir=_text(section.get("WorkingDir")),
        user=_text(section.get("User")),
        created=_text(config.get("created")),
    )


def platform(config: dict[str, Any]) -> str:
    """ "linux/arm64/v8" from the config's os, architecture and variant; "" when unknown."""
    parts = [_text(config.get(key)) for key in ("os", "architecture", "variant")]
    return "/".join(p for p in parts if p) if parts[0] and parts[1] else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    return [item for item in _list(value)[:MAX_ITEMS] if isinstance(item, str)]


def _command(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(_strings(value))
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
