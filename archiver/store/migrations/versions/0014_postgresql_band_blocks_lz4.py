"""PostgreSQL compresses the band index's blocks with lz4 instead of pglz.

Each batch writes its band rows as blocks (0012), several kilobytes of sorted integers a band,
which PostgreSQL compresses as they are inserted, in the coordinator's link stage, and pglz took
most of those inserts' time; lz4 compresses them nearly as small several times faster (the
figures are in bench/README.md), and the lookups' reads of the blocks decompress them faster
too. Only new blocks are compressed the new way; the stored ones stay readable as they are until
a merge moves their rows into the main level. A server without lz4 (built without it, or older than PostgreSQL 14)
keeps pglz. SQLite does not compress.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 00:10:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _compress_with("lz4")


def downgrade() -> None:
    _compress_with("pglz")


def _compress_with(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text(f"ALTER TABLE band_blocks ALTER COLUMN data SET COMPRESSION {method}"))
    except DBAPIError:
        return  # a server without lz4 keeps its default
