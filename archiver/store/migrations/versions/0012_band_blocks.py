"""band_blocks: the band index's upper level as one sorted array per batch and band, in place of
the run_bands and recent_bands B-trees.

A batch then writes a few dozen blocks instead of each of its band rows into a B-tree, and the
rows are not moved from level to level before they reach the main one; the workers search the
blocks in memory (``levels``). The rows of the two old levels are merged into passage_bands in
key order, as ``archiver compact`` would; nothing is lost. The downgrade merges the blocks the
same way.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 16:10:00
"""

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OLD_LEVELS = ("run_bands", "recent_bands")


def upgrade() -> None:
    both = " UNION ALL ".join(f"SELECT band, key, passage_id FROM {name}" for name in OLD_LEVELS)
    op.execute(
        "INSERT INTO passage_bands (band, key, passage_id) "
        f"SELECT band, key, passage_id FROM ({both}) AS upper_levels ORDER BY band, key, passage_id"
    )
    for name in OLD_LEVELS:
        op.drop_table(name)
    op.create_table(
        "band_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("band", sa.SmallInteger(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("first_passage", sa.Integer(), nullable=False),
        sa.Column("last_passage", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    # A block's data: its (key, passage id) pairs as little-endian int64s (``levels.encode``),
    # written out again here rather than imported: a migration is a frozen record of one step.
    bind = op.get_bind()
    rows: list[tuple[int, int, int]] = []
    for band, data in bind.execute(sa.text("SELECT band, data FROM band_blocks")):
        pairs = np.frombuffer(bytes(data), dtype="<i8").reshape(-1, 2)
        rows += [(int(band), int(key), int(passage)) for key, passage in pairs.tolist()]
    if rows:
        bind.execute(
            sa.text("INSERT INTO passage_bands (band, key, passage_id) VALUES (:band, :key, :passage)"),
            [{"band": b, "key": k, "passage": p} for b, k, p in sorted(rows)],
        )
    op.drop_table("band_blocks")
    for name in OLD_LEVELS:
        op.create_table(
            name,
            sa.Column("band", sa.SmallInteger(), nullable=False),
            sa.Column("key", sa.BigInteger(), nullable=False),
            sa.Column("passage_id", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("band", "key", "passage_id"),
            sqlite_with_rowid=False,
        )
