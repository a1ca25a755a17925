"""hub pages: profile fields, webhook delivery attempts, site settings

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-28

users gain the profile people fill in on /settings/general (full name, location, company,
website; empty for everyone until then). webhook_delivery_attempts keeps each attempt of each
delivery (when, how long, the status code or why none came) for the Webhooks settings tab.
site_settings holds what administrators change on the admin pages (sign-up open or closed),
which overrides the DOCKYARD_* default while a row exists. Only new columns and new tables.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

PROFILE = {"full_name": 100, "location": 100, "company": 100, "website": 255}


def upgrade() -> None:
    for column, length in PROFILE.items():
        op.add_column("users", sa.Column(column, sa.String(length), server_default="", nullable=False))
    op.create_table(
        "webhook_delivery_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_delivery_attempts_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery_attempts")),
    )
    op.create_index(
        "ix_webhook_delivery_attempts_delivery_id",
        "webhook_delivery_attempts",
        ["delivery_id", "id"],
        unique=False,
    )
    op.create_table(
        "site_settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_site_settings")),
    )


def downgrade() -> None:
    op.drop_table("site_settings")
    op.drop_index("ix_webhook_delivery_attempts_delivery_id", table_name="webhook_delivery_attempts")
    op.drop_table("webhook_delivery_attempts")
    with op.batch_alter_table("users") as batch_op:
        for column in reversed(PROFILE):
            batch_op.drop_column(column)
