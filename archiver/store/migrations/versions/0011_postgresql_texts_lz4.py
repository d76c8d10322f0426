"""PostgreSQL compresses the cleaned texts with lz4 instead of pglz.

Each batch's submissions carry their whole cleaned texts, which PostgreSQL compresses as they
are inserted, in the coordinator's file stage, and lz4 does that faster than pglz (the figures
are in bench/README.md). Only new values are compressed the new way; the stored ones stay as
they are, readable as before. The search index's copy of the texts (0010) is compressed the
same way. A server without lz4 (built without it, or older than PostgreSQL 14) keeps pglz.
SQLite does not compress.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 11:45:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TEXTS = (("submissions", "cleaned_text"), ("submission_search", "cleaned_text"))


def upgrade() -> None:
    _compress_with("lz4")


def downgrade() -> None:
    _compress_with("pglz")


def _compress_with(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, column in TEXTS:
        if bind.execute(sa.text("SELECT to_regclass(:name)"), {"name": table}).scalar() is None:
            continue  # no search index (0006 without pg_trgm)
        try:
            with bind.begin_nested():
                bind.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}"))
        except DBAPIError:
            return  # a server without lz4 keeps its default
