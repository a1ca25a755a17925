"""Build rules as Docker Hub has them: which git refs build, and under which Docker tags.

A rule's source name is a literal (``main``) or a regular expression between slashes
(``/^v([0-9.]+)$/``, searched for in the ref as Docker Hub does). Its Docker tag is a literal
or a template: ``{sourceref}`` is the branch or tag name, ``{\\1}`` ... ``{\\9}`` the groups of
the regex. With no rules a link builds branch ``main`` or ``master`` as ``latest``.

Expressions are RE2's (``google-re2``): matching takes time linear in the ref, whatever the
expression, so a rule such as ``/^(a+)+$/`` cannot stall the server on a long ref. RE2 has no
lookarounds and no backreferences; ``check`` refuses those when a rule is saved, saying so.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import re2  # type: ignore[import-untyped]

SourceType = Literal["branch", "tag"]
SOURCE_TYPES: tuple[SourceType, ...] = ("branch", "tag")
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_PLACEHOLDER = re.compile(r"\{(sourceref|\\[1-9])\}")
MAX_SOURCE_NAME = 255  # the column's size; also bounds what RE2 compiles
MAX_REF = 255
RE2_MEMORY = 1 << 20  # bytes for one compiled expression; a rule needs a few KiB
UNSUPPORTED = (
    "rule expressions are RE2 syntax, which always matches in linear time: it has no lookarounds "
    "((?=, (?!, (?<=, (?<!) and no backreferences (\\1)"
)


class RuleError(ValueError):
    """A rule that cannot be saved: bad source type, regex or Docker tag."""


@dataclass(frozen=True, slots=True)
class Variable:
    """A build argument (``kind="arg"``) or an environment variable of the hooks (``"env"``)."""

    name: str
    value: str
    secret: bool = False
    kind: Literal["arg", "env"] = "arg"


@dataclass(frozen=True, slots=True)
class Rule:
    source_type: SourceType = "branch"
    source_name: str = "main"
    docker_tag: str = "latest"
    dockerfile: str = "Dockerfile"
    context: str = "."
    autobuild: bool = True
    build_cache: bool = True
    variables: tuple[Variable, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.source_type not in SOURCE_TYPES:
            raise RuleError(f"source type must be branch or tag, not {self.source_type!r}")
        if not self.source_name:
            raise RuleError("source name is empty")
        if len(self.source_name) > MAX_SOURCE_NAME:
            raise RuleError(f"source name is longer than {MAX_SOURCE_NAME} characters")
        if not self.docker_tag:
            raise RuleError("docker tag is empty")
        if not _PLACEHOLDER.search(self.docker_tag) and not TAG_PATTERN.match(self.docker_tag):
            raise RuleError(f"invalid docker tag {self.docker_tag!r}")

    def check(self) -> None:
        """What saving needs beyond the fields' shape: an expression RE2 compiles."""
        if self.is_regex:
            try:
                _re2(self.source_name[1:-1])
            except re2.error as exc:
                said = exc.args[0] if exc.args else ""
                reason = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
                message = f"bad regular expression {self.source_name} ({reason}): {UNSUPPORTED}"
                raise RuleError(message) from None

    @property
    def is_regex(self) -> bool:
        return (
            len(self.source_name) > 2 and self.source_name.startswith("/") and self.source_name.endswith("/")
        )

    def docker_tag_for(self, source_type: str, ref: str) -> str | None:
        """The Docker tag this rule gives ``ref``, or None when the rule does not match it."""
        if source_type != self.source_type or len(ref) > MAX_REF:
            return None
        if self.is_regex:
            pattern = _compiled(self.source_name[1:-1])
            match = pattern.search(ref) if pattern is not None else None
            if match is None:
                return None
            groups = match.groups()
        elif ref == self.source_name:
            groups = ()
        else:
            return None

        def fill(placeholder: re.Match[str]) -> str:
            if placeholder.group(1) == "sourceref":
                return ref
            index = int(placeholder.group(1)[1:])
            return (groups[index - 1] or "") if index <= len(groups) else ""

        tag = _PLACEHOLDER.sub(fill, self.docker_tag)
        return tag if TAG_PATTERN.match(tag) else None


def _re2(expression: str) -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused expression is the user's answer, not a server log line
    options.max_mem = RE2_MEMORY
    return re2.compile(expression, options=options)


@functools.lru_cache(maxsize=1024)
def _compiled(expression: str) -> Any:
    """The compiled expression; None for one saved before RE2 (it then matches nothing)."""
    try:
        return _re2(expression)
    except re2.error:
        return None


DEFAULT_RULES = (Rule("branch", "main", "latest"), Rule("branch", "master", "latest"))


@dataclass(frozen=True, slots=True)
class Match:
    """One build to queue: the rule that matched and the Docker tags it gives."""

    rule: Rule
    tags: tuple[str, ...]


def matches(rules: Iterable[Rule], source_type: str, ref: str, *, manual: bool = False) -> list[Match]:
    """One build per rule that matches (autobuild off only builds when triggered by hand)."""
    found = []
    for rule in list(rules) or DEFAULT_RULES:
        if not (rule.autobuild or manual):
            continue
        tag = rule.docker_tag_for(source_type, ref)
        if tag is not None:
            found.append(Match(rule, (tag,)))
    return found


def parse_rule(spec: str) -> Rule:
    """The CLI's form: ``TYPE:NAME=TAG``, e.g. ``branch:main=latest`` or ``tag:/^v(.*)$/={\\1}``."""
    source, sep, tag = spec.rpartition("=")
    kind, colon, name = source.partition(":")
    if not sep or not colon:
        raise RuleError(f"rule {spec!r} is not TYPE:NAME=TAG")
    return Rule(kind, name, tag)  # type: ignore[arg-type]
