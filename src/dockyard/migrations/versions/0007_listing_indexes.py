"""listings in the database: ordering columns on repositories and an index per listing order

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-28

Listings and search read every repository, joined with a star count aggregated over all stars,
and sorted and paged in Python (0.5 s per anonymous /explore at 16,000 repositories). Now the
database orders and pages them by index: repositories carry their pull and star counts and the
time they were last updated (last push, else creation), each listing order has an index (global
and per namespace), and search scans one narrow covering index instead of the table.

The pull count moves from repository_stats (which keeps last_pulled_at) to repositories.
Only ADD COLUMN, UPDATE and indexes on repositories: no table rebuild of the busiest table.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

LISTINGS: dict[str, list[Any]] = {
    "ix_repositories_pulls": [sa.text("pull_count DESC"), sa.text("star_count DESC")],
    "ix_repositories_stars": [sa.text("star_count DESC"), sa.text("pull_count DESC")],
    "ix_repositories_updated": [sa.text("updated_at DESC")],
    "ix_repositories_namespace_name": ["namespace"],
    "ix_repositories_namespace_pulls": ["namespace", sa.text("pull_count DESC"), sa.text("star_count DESC")],
    "ix_repositories_namespace_stars": ["namespace", sa.text("star_count DESC"), sa.text("pull_count DESC")],
    "ix_repositories_namespace_updated": ["namespace", sa.text("updated_at DESC")],
}
SEARCH = ["description", "name", "namespace", "is_private", "star_count", "pull_count"]


def upgrade() -> None:
    op.add_column(
        "repositories",
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default="1970-01-01 00:00:00", nullable=False),
    )
    op.add_column("repositories", sa.Column("pull_count", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("repositories", sa.Column("star_count", sa.Integer(), server_default="0", nullable=False))
    op.execute("UPDATE repositories SET updated_at = COALESCE(pushed_at, created_at)")
    op.execute(
        "UPDATE repositories SET pull_count = COALESCE((SELECT s.pull_count FROM repository_stats s "
        "WHERE s.repository_id = repositories.id), 0)"
    )
    op.execute(
        "UPDATE repositories SET star_count = (SELECT COUNT(*) FROM stars s "
        "WHERE s.repository_id = repositories.id)"
    )
    with op.batch_alter_table("repository_stats") as batch_op:
        batch_op.drop_column("pull_count")
    op.drop_index("ix_repositories_namespace", table_name="repositories")
    for name, columns in LISTINGS.items():
        op.create_index(name, "repositories", [*columns, "name", "is_private"], unique=False)
    op.create_index("ix_repositories_search", "repositories", SEARCH, unique=False)


def downgrade() -> None:
    op.drop_index("ix_repositories_search", table_name="repositories")
    for name in reversed(LISTINGS):
        op.drop_index(name, table_name="repositories")
    op.create_index("ix_repositories_namespace", "repositories", ["namespace"], unique=False)
    with op.batch_alter_table("repository_stats") as batch_op:
        batch_op.add_column(sa.Column("pull_count", sa.BigInteger(), server_default="0", nullable=False))
    op.execute(
        "UPDATE repository_stats SET pull_count = (SELECT r.pull_count FROM repositories r "
        "WHERE r.id = repository_stats.repository_id)"
    )
    op.execute(
        "INSERT INTO repository_stats (repository_id, pull_count) SELECT id, pull_count FROM repositories "
        "WHERE pull_count > 0 AND id NOT IN (SELECT repository_id FROM repository_stats)"
    )
    with op.batch_alter_table("repositories") as batch_op:
        batch_op.drop_column("star_count")
        batch_op.drop_column("pull_count")
        batch_op.drop_column("updated_at")
