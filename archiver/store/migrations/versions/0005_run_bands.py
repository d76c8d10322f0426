"""run_bands: the level of the band index that a run's batches write into, moved into
recent_bands in key order at the end of the run, so that each batch does not rewrite the
recent level's pages again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 10:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The columns of recent_bands (0003), written out again rather than shared: a migration is
    # a frozen record of one step, and must not change when a helper it imported does.
    op.create_table(
        "run_bands",
        sa.Column("band", sa.SmallInteger(), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("passage_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("band", "key", "passage_id"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.execute("INSERT INTO recent_bands (band, key, passage_id) SELECT band, key, passage_id FROM run_bands")
    op.drop_table("run_bands")
