"""organisation members, repository collaborators, who created each tag

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29

organization_members: membership of an organisation on its own, so someone can belong to one
without being in a team (Docker Hub's "member" role); owners stay the members of the "owners"
team. Filled from the team memberships that exist. repository_collaborators: read, write or
admin for one user on one personal repository. tag_activity.creator: who pushed a tag first
(Docker Hub's ``creator``), filled with the last pusher where the first is not known.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organization_members",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_members_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_organization_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("organization_id", "user_id", name=op.f("pk_organization_members")),
    )
    op.create_index(
        op.f("ix_organization_members_user_id"), "organization_members", ["user_id"], unique=False
    )
    op.create_table(
        "repository_collaborators",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("permission", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_repository_collaborators_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_repository_collaborators_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("repository_id", "user_id", name=op.f("pk_repository_collaborators")),
    )
    op.create_index(
        op.f("ix_repository_collaborators_user_id"), "repository_collaborators", ["user_id"], unique=False
    )
    op.execute(
        "INSERT INTO organization_members (organization_id, user_id, created_at) "
        "SELECT t.organization_id, m.user_id, MIN(m.created_at) FROM team_members m "
        "JOIN teams t ON t.id = m.team_id GROUP BY t.organization_id, m.user_id"
    )
    op.add_column("tag_activity", sa.Column("creator", sa.String(length=64), nullable=True))
    op.execute("UPDATE tag_activity SET creator = pusher")


def downgrade() -> None:
    with op.batch_alter_table("tag_activity") as batch_op:
        batch_op.drop_column("creator")
    op.drop_index(op.f("ix_repository_collaborators_user_id"), table_name="repository_collaborators")
    op.drop_table("repository_collaborators")
    op.drop_index(op.f("ix_organization_members_user_id"), table_name="organization_members")
    op.drop_table("organization_members")
