"""Immutable tags (Docker Hub's): a push may create a tag but never move it to another manifest.

    validate(rules), covers(rules, tag)      the rules (TagRules in tag_rules.py saves them)
    refuse_moves(conn, hot, repo_id, tags, id)
                                             inside the manifest PUT's transaction: DENIED
                                             "tag X is immutable" for a tag that would move

Rules are RE2 expressions (``google-re2``), matched against the whole tag, so a hostile rule
cannot make a push take exponential time; the check runs in the PUT's own transaction, so two
racing first pushes of one tag cannot both win.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, cast

import re2  # type: ignore[import-untyped]
from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import Connection

from dockyard.db.models import Tag
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.models import TagImmutability
from dockyard.registry.prepared import Statements

immutability = cast(Table, TagImmutability.__table__)
tags = cast(Table, Tag.__table__)
HAS_RULES = select(immutability.c.repository_id).where(immutability.c.repository_id == bindparam("repo_id"))

MAX_RULES = 20
MAX_RULE_LENGTH = 255
RE2_MEMORY = 1 << 20


class InvalidRule(ValueError):
    pass


def _compile(expression: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = RE2_MEMORY
    return re2.compile(expression, options=options)


@functools.lru_cache(maxsize=1024)
def _compiled(expression: str) -> Any:
    try:
        return _compile(expression)
    except re2.error:
        return None  # never saved (validate refuses it): matches nothing


def validate(rules: Sequence[str]) -> list[str]:
    """The rules as saved; InvalidRule names the first one RE2 refuses."""
    if len(rules) > MAX_RULES:
        raise InvalidRule(f"at most {MAX_RULES} rules")
    for rule in rules:
        if not rule or len(rule) > MAX_RULE_LENGTH:
            raise InvalidRule(f"a rule is 1 to {MAX_RULE_LENGTH} characters")
        try:
            _compile(rule)
        except re2.error as exc:
            raise InvalidRule(f"rule {rule!r} is not an RE2 expression: {exc}") from None
    return list(dict.fromkeys(rules))


def covers(rules: Sequence[str], tag: str) -> bool:
    if not rules:
        return True
    return any((found := _compiled(rule)) is not None and found.fullmatch(tag) for rule in rules)


def refuse_moves(
    conn: Connection, hot: Statements, repo_id: int, tag_names: Sequence[str], manifest_id: int
) -> None:
    """Every PUT asks whether the repository has rules: one prepared point read on SQLite. Only
    a repository with rules pays for reading them and the tags the PUT would move."""
    if not tag_names or hot.scalar(conn, HAS_RULES, {"repo_id": repo_id}) is None:
        return
    rules = conn.execute(select(immutability.c.rules).where(immutability.c.repository_id == repo_id)).first()
    if rules is None:
        return
    current = conn.execute(
        select(tags.c.name, tags.c.manifest_id).where(
            tags.c.repository_id == repo_id, tags.c.name.in_(tag_names)
        )
    )
    for name, points_at in current:
        if points_at != manifest_id and covers(rules.rules or [], name):
            raise RegistryError(ErrorCode.DENIED, {"tag": name}, message=f"tag {name} is immutable")
