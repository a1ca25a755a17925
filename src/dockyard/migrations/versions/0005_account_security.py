"""account security: credentials versions, disabled accounts, creation limits, sealed webhook secrets

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

users.credentials_version (0 for everyone: sessions and tokens issued before carry no version,
which reads as 0, so they keep working until the first password change) and users.disabled_at;
web_sessions.credentials_version; the rate_limit_hits table. Webhook URLs and secrets move from
plain text into sealed columns, each row encrypted here with the server's secrets key, which
``dockyard migrate`` (and every command that migrates) hands over as ``config.attributes["secrets"]``;
without it, a database that holds webhooks is refused rather than left in plain text.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_plain = sa.table(
    "webhooks",
    sa.column("id", sa.Integer()),
    sa.column("url", sa.String()),
    sa.column("secret", sa.String()),
    sa.column("sealed_url", sa.LargeBinary()),
    sa.column("sealed_secret", sa.LargeBinary()),
)


def _box(rows: Sequence[Any]) -> Any:
    box = context.config.attributes.get("secrets")
    if rows and box is None:
        raise RuntimeError(
            "webhook URLs and secrets must be sealed with the server key: run `dockyard migrate`"
        )
    return box


def upgrade() -> None:
    connection = op.get_bind()
    # Before any change: SQLite commits each ALTER at once, so a refusal later would leave half a migration.
    rows = connection.execute(sa.select(_plain.c.id, _plain.c.url, _plain.c.secret)).all()
    box = _box(rows)
    if connection.dialect.name == "sqlite":  # zero what the plain columns leave behind in the file
        connection.exec_driver_sql("PRAGMA secure_delete = ON")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credentials_version", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credentials_version", sa.Integer(), server_default="0", nullable=False)
        )

    op.create_table(
        "rate_limit_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_limit_hits")),
    )
    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.create_index("ix_rate_limit_hits_key_at", ["key", "at"], unique=False)

    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_url", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("sealed_secret", sa.LargeBinary(), nullable=True))
    for row in rows:
        connection.execute(
            _plain.update()
            .where(_plain.c.id == row.id)
            .values(
                sealed_url=box.seal_text(row.url),
                sealed_secret=box.seal_text(row.secret) if row.secret else None,
            )
        )
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.alter_column("sealed_url", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("secret")
        batch_op.drop_column("url")


def downgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_plain.c.id, _plain.c.sealed_url, _plain.c.sealed_secret)).all()
    box = _box(rows)
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("url", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("secret", sa.String(length=200), server_default="", nullable=False))
    for row in rows:
        connection.execute(
            _plain.update()
            .where(_plain.c.id == row.id)
            .values(
                url=box.open_text(row.sealed_url),
                secret=box.open_text(row.sealed_secret) if row.sealed_secret is not None else "",
            )
        )
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.alter_column("url", existing_type=sa.String(length=2000), nullable=False)
        batch_op.drop_column("sealed_secret")
        batch_op.drop_column("sealed_url")

    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_limit_hits_key_at")
    op.drop_table("rate_limit_hits")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_column("credentials_version")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
        batch_op.drop_column("credentials_version")
