"""recent_bands: the small level of the band index that a night's rows go into, merged into
passage_bands by compaction, so a night's writes do not grow with the archive.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recent_bands",
        sa.Column("band", sa.SmallInteger(), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("passage_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("band", "key", "passage_id"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.execute("INSERT INTO passage_bands (band, key, passage_id) SELECT band, key, passage_id FROM recent_bands")
    op.drop_table("recent_bands")
