"""ix_passages_exact → ix_passages_exact_rep: index ``exact`` for representatives only.

A new paragraph's group is looked up by its exact hash among representatives (``rep_id =
id``). On the full index SQLite visited every copy of a hash and read its row to test that; at
bench scale 20, where templates are copied hundreds of times, the lookups cost ten times what
they do on an index of representatives alone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 08:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

IS_REPRESENTATIVE = sa.text("rep_id = id")


def upgrade() -> None:
    op.drop_index("ix_passages_exact", table_name="passages")
    op.create_index(
        "ix_passages_exact_rep",
        "passages",
        ["exact"],
        sqlite_where=IS_REPRESENTATIVE,
        postgresql_where=IS_REPRESENTATIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_passages_exact_rep", table_name="passages")
    op.create_index("ix_passages_exact", "passages", ["exact"])
