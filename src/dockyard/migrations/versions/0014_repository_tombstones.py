"""repository tombstones

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28

repository_tombstones: the names of deleted repositories and when they went (registry/tombstones.py),
so that a push with a token issued before the deletion (a build that was running) cannot recreate
the repository. Kept a day, pruned by the next deletion.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repository_tombstones",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_repository_tombstones")),
    )
    op.create_index(
        op.f("ix_repository_tombstones_deleted_at"), "repository_tombstones", ["deleted_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_repository_tombstones_deleted_at"), table_name="repository_tombstones")
    op.drop_table("repository_tombstones")
