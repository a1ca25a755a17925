"""the events outbox

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28

events: what happened (a push, a deletion, a build's state), written in the transaction of the
change and deleted in the transaction that ran its handlers (dockyard/events). ``retry_at`` is set
only after a handler failed on the row.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_retry_at_id", "events", ["retry_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_events_retry_at_id", table_name="events")
    op.drop_table("events")
