"""pull-through cache: proxy namespaces, the last upstream check of each cached tag, the last pull
of each cached manifest

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28

proxy_namespaces: one row per proxy namespace (its upstream, sealed credentials, tag TTL,
visibility, whether it is the instance mirror, hit and miss counters, size limit).
proxy_tag_checks: when each cached tag was last found current upstream. proxy_pulls: when each
cached manifest was last pulled (least-recently-pulled eviction). Cached content itself lives in
the registry's tables.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proxy_namespaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("namespace", sa.String(length=30), nullable=False),
        sa.Column("upstream_url", sa.String(length=2048), nullable=False),
        sa.Column("sealed_credentials", sa.LargeBinary(), nullable=True),
        sa.Column("ttl_seconds", sa.Integer(), nullable=False),
        sa.Column("is_private", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_mirror", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("misses", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("size_limit_bytes", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proxy_namespaces")),
        sa.UniqueConstraint("namespace", name=op.f("uq_proxy_namespaces_namespace")),
    )
    op.create_table(
        "proxy_tag_checks",
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=100), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("repository", "tag", name=op.f("pk_proxy_tag_checks")),
    )
    op.create_table(
        "proxy_pulls",
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("digest", sa.String(length=100), nullable=False),
        sa.Column("namespace", sa.String(length=30), nullable=False),
        sa.Column("last_pulled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("repository", "digest", name=op.f("pk_proxy_pulls")),
    )
    op.create_index(
        "ix_proxy_pulls_namespace_last_pulled_at", "proxy_pulls", ["namespace", "last_pulled_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_proxy_pulls_namespace_last_pulled_at", table_name="proxy_pulls")
    op.drop_table("proxy_pulls")
    op.drop_table("proxy_tag_checks")
    op.drop_table("proxy_namespaces")
