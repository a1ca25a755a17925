"""What the runner's parts share: the step error, the log writer, the secret masker, the grant.

Every part of a build (source fetch, engine client, hook sandbox) writes lines through a
``LogWriter`` that the worker masks and stores, and reports failure as ``StepFailed`` with the
reason shown on the build.
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

MASK = "********"
MIN_SECRET = 3

LogWriter = Callable[[str], None]
Advance = Callable[[str], Awaitable[None]]
PullToken = Callable[[Sequence[str]], Awaitable[str | None]]


class StepFailed(Exception):
    """A step of the build failed; the message is the reason shown with the build."""


class Masker:
    """Replaces every secret value in a log line, also as it appears URL-encoded or in Basic auth."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values: list[str] = []
        self.add(values)

    def add(self, values: Iterable[str]) -> None:
        found = set(self.values)
        for value in values:
            for form in (value, urllib.parse.quote(value, safe=""), urllib.parse.quote(value)):
                if len(form) >= MIN_SECRET:
                    found.add(form)
        self.values = sorted(found, key=len, reverse=True)

    def __call__(self, line: str) -> str:
        for value in self.values:
            line = line.replace(value, MASK)
        return line


def basic_header(username: str, password: str) -> str:
    """The Authorization header value git sends for the link's username and password."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def link_secrets(credentials: dict[str, str]) -> list[str]:
    """The parts of a link's credentials that must never show: password, key, and their encodings."""
    found = [v for k, v in credentials.items() if k in ("password", "ssh_key") and v]
    if credentials.get("password"):
        found.append(basic_header(credentials.get("username", ""), credentials["password"]).split()[1])
    key = credentials.get("ssh_key", "")
    found += [line.strip() for line in key.splitlines() if len(line.strip()) >= 16]
    return found


@dataclass(frozen=True)
class RegistryGrant:
    """How the build's engine authenticates to this Dockyard, as the account behind the link.

    ``push`` is a token for the built repository alone (push, pull); ``pull`` makes a token
    with pull on the given repositories, as far as the account may pull them. Both are None
    for an open registry (no authentication)."""

    push: str | None
    pull: PullToken


async def _anonymous(repositories: Sequence[str]) -> str | None:
    return None


ANONYMOUS = RegistryGrant(None, _anonymous)
