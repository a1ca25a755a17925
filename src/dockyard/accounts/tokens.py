"""Personal access tokens: created with their scopes and expiry, listed without secrets, revoked.

Only a non-secret lookup key and a SHA-256 of the whole token are stored (credentials.py); the
plaintext is handed out once, when the token is made.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update

from dockyard.accounts import _queries as q
from dockyard.accounts import credentials
from dockyard.accounts._queries import MAX_LABEL, TOKENS, namespaces, tokens, users
from dockyard.accounts.audit import write_event
from dockyard.accounts.errors import InvalidInput, NotFound
from dockyard.accounts.records import AccessToken, EventKind
from dockyard.db.engine import offload


class Tokens(q.ServicePart):
    @offload
    def create_token(
        self,
        username: str,
        label: str,
        scopes: Iterable[str],
        expires_at: datetime | None = None,
        *,
        actor: str | None = None,
    ) -> tuple[AccessToken, str]:
        """A new personal access token and its plaintext, which is returned this once only."""
        wanted = credentials.normalize_scopes(scopes)
        label = label.strip()
        if not label or len(label) > MAX_LABEL:
            raise InvalidInput(f"token labels are 1 to {MAX_LABEL} characters")
        now = q.now()
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise InvalidInput("expires_at must be timezone-aware")
            if expires_at <= now:
                raise InvalidInput("expires_at must be in the future")
        plaintext, lookup, secret_hash = credentials.new_token()
        with self.db.write.begin() as conn:
            user = q.require_user(conn, username)
            insert = tokens.insert().values(
                user_id=user.id,
                label=label,
                scopes=" ".join(sorted(wanted)),
                lookup=lookup,
                secret_hash=secret_hash,
                created_at=now,
                expires_at=expires_at,
            )
            token_id = q.new_id(conn.execute(insert))
            detail = {
                "token_id": token_id,
                "label": label,
                "scopes": sorted(wanted),
                "expires_at": expires_at.isoformat() if expires_at else None,
            }
            write_event(conn, EventKind.TOKEN_CREATED, actor=actor, target=username, detail=detail)
            row = conn.execute(TOKENS.where(tokens.c.id == token_id)).one()
        return q.token_record(row), plaintext

    @offload
    def list_tokens(self, username: str) -> list[AccessToken]:
        with self.db.read.connect() as conn:
            q.require_user(conn, username)
            rows = conn.execute(TOKENS.where(namespaces.c.name == username).order_by(tokens.c.id)).all()
        return [q.token_record(row) for row in rows]

    @offload
    def revoke_token(self, username: str, token_id: int, *, actor: str | None = None) -> AccessToken:
        with self.db.write.begin() as conn:
            row = conn.execute(TOKENS.where(tokens.c.id == token_id, namespaces.c.name == username)).first()
            if row is None:
                raise NotFound(f"{username!r} has no access token {token_id}")
            if row.revoked_at is None:
                conn.execute(update(tokens).where(tokens.c.id == token_id).values(revoked_at=q.now()))
                detail = {"token_id": token_id, "label": row.label}
                write_event(conn, EventKind.TOKEN_REVOKED, actor=actor, target=username, detail=detail)
            row = conn.execute(TOKENS.where(tokens.c.id == token_id)).one()
        return q.token_record(row)

    @offload
    def rename_token(self, username: str, token_id: int, label: str) -> bool:
        """Change a token's label (Docker Hub lets PATCH do it); False when the user has no such
        token."""
        owner = select(users.c.id).select_from(users.join(namespaces)).where(namespaces.c.name == username)
        with self.db.write.begin() as conn:
            result = conn.execute(
                update(tokens)
                .where(tokens.c.id == token_id, tokens.c.user_id == owner.scalar_subquery())
                .values(label=label)
            )
            return bool(result.rowcount)
