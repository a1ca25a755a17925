"""operations: garbage collection, immutable tags, quotas, retention

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-28

repository_blobs gains an index by digest (the collector's mark, mounts, quotas). blobs gain touched_at (the last upload, mount, link or HEAD; NULL means created_at) and sweep_id
(the collector run deleting the blob, while one does: uploads of the same digest wait for it).
gc_runs records each collection; tag_immutability the repositories whose tags are immutable;
namespace_quotas the storage quota of a namespace; retention_policies which tags go, per
namespace or repository.
Only new columns and new tables.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("blobs", sa.Column("touched_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("blobs", sa.Column("sweep_id", sa.String(length=36), nullable=True))
    op.create_index(op.f("ix_blobs_sweep_id"), "blobs", ["sweep_id"], unique=False)
    op.create_index("ix_repository_blobs_digest", "repository_blobs", ["digest"], unique=False)
    op.create_table(
        "gc_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("grace_seconds", sa.Integer(), nullable=False),
        sa.Column("manifests_deleted", sa.Integer(), nullable=False),
        sa.Column("links_deleted", sa.Integer(), nullable=False),
        sa.Column("blobs_deleted", sa.Integer(), nullable=False),
        sa.Column("bytes_freed", sa.BigInteger(), nullable=False),
        sa.Column("uploads_removed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gc_runs")),
    )
    op.create_index(op.f("ix_gc_runs_started_at"), "gc_runs", ["started_at"], unique=False)
    op.create_table(
        "tag_immutability",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_tag_immutability_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("repository_id", name=op.f("pk_tag_immutability")),
    )

    op.create_table(
        "namespace_quotas",
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("limit_bytes", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("namespace", name=op.f("pk_namespace_quotas")),
    )


    op.create_table(
        "retention_policies",
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("keep_last", sa.Integer(), nullable=True),
        sa.Column("keep_days", sa.Integer(), nullable=True),
        sa.Column("keep", sa.JSON(), nullable=False),
        sa.Column("untagged_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("target", name=op.f("pk_retention_policies")),
    )


def downgrade() -> None:
    op.drop_table("retention_policies")
    op.drop_table("namespace_quotas")
    op.drop_table("tag_immutability")
    op.drop_index(op.f("ix_gc_runs_started_at"), table_name="gc_runs")
    op.drop_table("gc_runs")
    op.drop_index("ix_repository_blobs_digest", table_name="repository_blobs")
    op.drop_index(op.f("ix_blobs_sweep_id"), table_name="blobs")
    with op.batch_alter_table("blobs") as batch:
        batch.drop_column("sweep_id")
        batch.drop_column("touched_at")
