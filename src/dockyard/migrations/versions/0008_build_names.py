"""build names: build links and builds under canonical repository names

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28

Before 0008 the build path did not canonicalise names, so a user called ``nginx`` could link
repository ``nginx``, whose pushes landed in ``library/nginx``. Names are canonical from now on
(``nginx`` is ``library/nginx``); this renames what was saved under a bare name, so such a link
now needs a site administrator's rights to push. A bare-name link whose canonical name is already
linked is the impostor of the two: it is removed with its rules, builds and logs. Data only.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

links = sa.table("build_links", sa.column("id", sa.Integer), sa.column("repository", sa.String))
rules = sa.table("build_rules", sa.column("link_id", sa.Integer))
builds = sa.table(
    "builds",
    sa.column("id", sa.Integer),
    sa.column("link_id", sa.Integer),
    sa.column("repository", sa.String),
)
log_lines = sa.table("build_log_lines", sa.column("build_id", sa.Integer))


def upgrade() -> None:
    conn = op.get_bind()
    taken = set(conn.execute(sa.select(links.c.repository)).scalars())
    bare = conn.execute(sa.select(links.c.id, links.c.repository).where(~links.c.repository.contains("/")))
    for link_id, name in bare.all():
        canonical = f"library/{name}"
        if canonical in taken:
            doomed = sa.select(builds.c.id).where(builds.c.link_id == link_id)
            conn.execute(sa.delete(log_lines).where(log_lines.c.build_id.in_(doomed)))
            conn.execute(sa.delete(builds).where(builds.c.link_id == link_id))
            conn.execute(sa.delete(rules).where(rules.c.link_id == link_id))
            conn.execute(sa.delete(links).where(links.c.id == link_id))
            continue
        taken.add(canonical)
        conn.execute(sa.update(links).where(links.c.id == link_id).values(repository=canonical))
        conn.execute(sa.update(builds).where(builds.c.link_id == link_id).values(repository=canonical))


def downgrade() -> None:
    """Nothing to undo: canonical names were always valid names."""
