"""Authentication: a username with a password or a personal access token, and refreshed logins.

Login events are not recorded here: only the caller knows the client's address and whether a
request was a login (``AccountService.record_event``).

A login writes only bookkeeping (the last login or token use, a rehashed password): on a full
disk those writes are skipped with a warning, so a full disk never locks everyone out (a 500
from /token would stop even the pulls and deletes that make room).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Update, select, update

from dockyard.accounts import _queries as q
from dockyard.accounts import credentials
from dockyard.accounts._queries import TOKENS, USERS, namespaces, tokens, users
from dockyard.accounts.records import Principal
from dockyard.db.engine import lookup, offload
from dockyard.storage.space import is_disk_full

log = logging.getLogger(__name__)


class Authentication(q.ServicePart):
    @offload
    def authenticate(self, username: str, secret: str) -> Principal | None:
        """The principal for a username and a password or personal access token, else None.

        Unknown users cost one Argon2 verification like known ones, so timing does not tell
        which names exist. Oversized credentials are refused before any work. Tokens must be
        the user's own, unrevoked and unexpired; their last use is recorded. An ASCII name is
        matched in any case (see ``_fold_case``).
        """
        if len(username) > 255 or len(secret.encode("utf-8", "surrogatepass")) > credentials.MAX_SECRET_BYTES:
            return None
        username = _fold_case(username)
        if credentials.looks_like_token(secret):
            return self._authenticate_token(username, secret)
        with self.db.read.connect() as conn:
            row = conn.execute(USERS.where(namespaces.c.name == username)).first()
        if row is None:
            self.passwords.waste_time(secret)
            return None
        ok, new_hash = self.passwords.verify(row.password_hash, secret)
        if not ok or row.disabled_at is not None:  # checked after the hash: timing tells nothing
            return None
        now = q.now()
        changes: dict[str, Any] = {}
        if new_hash is not None:
            changes["password_hash"] = new_hash
        if q.stale(row.last_login_at, now):
            changes["last_login_at"] = now
        if changes:
            self._bookkeeping(update(users).where(users.c.id == row.id).values(**changes))
        return q.password_principal(row)

    def _authenticate_token(self, username: str, secret: str) -> Principal | None:
        lookup = credentials.token_lookup(secret)
        if lookup is None:
            return None
        with self.db.read.connect() as conn:
            row = conn.execute(TOKENS.where(tokens.c.lookup == lookup)).first()
        if row is None or not credentials.token_matches(secret, row.secret_hash):
            return None
        now = q.now()
        if row.username != username or not q.token_usable(row, now):
            return None
        if q.stale(row.last_used_at, now):
            self._bookkeeping(update(tokens).where(tokens.c.id == row.id).values(last_used_at=now))
        return q.token_principal(row)

    def _bookkeeping(self, statement: Update) -> None:
        """A write the login does not depend on; skipped (with a warning) when the disk is full."""
        try:
            with self.db.write.begin() as conn:
                conn.execute(statement)
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            log.warning("the disk is full: a login's bookkeeping (last use, rehash) was not written")

    @offload
    def principal_for(
        self, username: str, *, token_id: int | None = None, version: int | None = None
    ) -> Principal | None:
        """A fresh principal for an earlier login (a refresh or hub token): None when the user is
        gone or disabled, the password changed since (``version``, the credentials version the
        login saw; None skips that check), or the access token used then was revoked or expired.
        Admin rights are re-read."""
        with self.db.read.connect() as conn:
            if token_id is None:
                row = conn.execute(USERS.where(namespaces.c.name == username)).first()
                if row is None or row.disabled_at is not None:
                    return None
                if version is not None and version != row.credentials_version:
                    return None
                return q.password_principal(row)
            token = conn.execute(TOKENS.where(tokens.c.id == token_id)).first()
        if token is None or token.username != username or not q.token_usable(token, q.now()):
            return None
        return q.token_principal(token)

    @lookup
    def still_valid(self, principal: Principal) -> bool:
        """Whether what a login issued for ``principal`` may still be used: the account is the
        same one (name and id), not disabled, not demoted from administrator, and its password
        unchanged since (a password login) or its access token still usable (a token login)."""
        with self.db.read.connect() as conn:
            row = conn.execute(
                select(users.c.credentials_version, users.c.disabled_at, users.c.is_admin)
                .select_from(users.join(namespaces))
                .where(users.c.id == principal.user_id, namespaces.c.name == principal.username)
            ).first()
            if row is None or row.disabled_at is not None or (principal.is_admin and not row.is_admin):
                return False
            if principal.token_id is None:
                return bool(row.credentials_version == principal.credentials_version)
            token = conn.execute(TOKENS.where(tokens.c.id == principal.token_id)).first()
        return token is not None and token.user_id == principal.user_id and q.token_usable(token, q.now())


def _fold_case(username: str) -> str:
    """Docker IDs are lowercase, so ``docker login -u Alice`` means alice. Only a pure-ASCII name is
    lowercased: str.lower() maps some other characters onto ASCII letters (the Kelvin sign U+212A
    becomes "k"), and a look-alike must never reach another account."""
    return username.lower() if username.isascii() else username
