"""Whether the account behind a verified access token still stands, asked of the accounts domain
at most once a second per account and login, so the registry's hot path stays a dict lookup.

A registry access token is a signed statement made at login; what happened since is not in it.
``Standing.holds`` asks ``AccountService.still_valid`` (the account is not disabled, deleted or
demoted, its password unchanged for a password login, its personal access token still usable
for a token login) and remembers the answer for ``ttl`` seconds. So disabling an account, changing
its password or revoking a token ends the access tokens issued before within that second, in
every server process, instead of when they expire.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from dockyard.accounts.records import Principal

TTL_SECONDS = 1.0
MAX_ENTRIES = 10_000

Key = tuple[int, str, int | None, int, bool]


class Standing:
    def __init__(
        self,
        still_valid: Callable[[Principal], Awaitable[bool]],
        ttl: float = TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._still_valid = still_valid
        self.ttl = ttl
        self.clock = clock
        self._answers: dict[Key, tuple[float, bool]] = {}

    async def holds(self, principal: Principal) -> bool:
        key = (
            principal.user_id,
            principal.username,
            principal.token_id,
            principal.credentials_version,
            principal.is_admin,
        )
        now = self.clock()
        cached = self._answers.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        answer = await self._still_valid(principal)
        if len(self._answers) >= MAX_ENTRIES:
            self._answers = {k: v for k, v in self._answers.items() if v[0] > now}
            if len(self._answers) >= MAX_ENTRIES:
                self._answers.clear()
        self._answers[key] = (now + self.ttl, answer)
        return answer
