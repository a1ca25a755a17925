"""builds: source links, build rules, the build queue and build logs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Only new tables; rules, builds and log lines cascade with their link.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "build_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("source_url", sa.String(length=1024), nullable=False),
        sa.Column("credentials", sa.LargeBinary(), nullable=True),
        sa.Column("webhook_secret", sa.LargeBinary(), nullable=False),
        sa.Column("trigger_token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=30), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_build_links")),
        sa.UniqueConstraint("repository", name=op.f("uq_build_links_repository")),
    )
    op.create_table(
        "build_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source_type", sa.String(length=8), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("docker_tag", sa.String(length=255), nullable=False),
        sa.Column("dockerfile", sa.String(length=1024), nullable=False),
        sa.Column("context", sa.String(length=1024), nullable=False),
        sa.Column("autobuild", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("build_cache", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("variables", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["build_links.id"],
            name=op.f("fk_build_rules_link_id_build_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_build_rules")),
    )
    with op.batch_alter_table("build_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_build_rules_link_id"), ["link_id"], unique=False)

    op.create_table(
        "builds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("source_type", sa.String(length=8), nullable=False),
        sa.Column("source_ref", sa.String(length=255), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=False),
        sa.Column("commit_message", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("dockerfile", sa.String(length=1024), nullable=False),
        sa.Column("context", sa.String(length=1024), nullable=False),
        sa.Column("build_cache", sa.Boolean(), nullable=False),
        sa.Column("variables", sa.LargeBinary(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("digest", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pushing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["link_id"], ["build_links.id"], name=op.f("fk_builds_link_id_build_links"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_builds")),
    )
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_builds_link_id"), ["link_id"], unique=False)
        batch_op.create_index("ix_builds_repository_id", ["repository", "id"], unique=False)
        batch_op.create_index("ix_builds_state_id", ["state", "id"], unique=False)

    op.create_table(
        "build_log_lines",
        sa.Column("build_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["build_id"], ["builds.id"], name=op.f("fk_build_log_lines_build_id_builds"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("build_id", "seq", name=op.f("pk_build_log_lines")),
    )


def downgrade() -> None:
    op.drop_table("build_log_lines")
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_index("ix_builds_state_id")
        batch_op.drop_index("ix_builds_repository_id")
        batch_op.drop_index(batch_op.f("ix_builds_link_id"))

    op.drop_table("builds")
    with op.batch_alter_table("build_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_build_rules_link_id"))

    op.drop_table("build_rules")
    op.drop_table("build_links")
