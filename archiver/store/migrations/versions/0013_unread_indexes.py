"""Indexes written and never read: ix_passages_rep_id holds only the passages in a group,
ix_passages_canonical_id and ix_matches_passage_id go.

Filing a batch inserts every passage into each index of the table. About half the passages
(headings, short and removed ones) have no group, and every lookup by group names one
(``rep_id IN (…)``, ``rep_id = ?``), which a partial index of the rows where it is set answers.
Nothing looks passages up by their canonical passage, so its index was written and never read
(and on PostgreSQL it kept the canonical updates from being HOT). ``uq_match_pair`` (passage_id,
other_id) answers every lookup of matches by passage_id, as its left prefix.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 21:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

IN_A_GROUP = sa.text("rep_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_passages_canonical_id", table_name="passages")
    op.drop_index("ix_passages_rep_id", table_name="passages")
    op.create_index(
        "ix_passages_rep_id", "passages", ["rep_id"], sqlite_where=IN_A_GROUP, postgresql_where=IN_A_GROUP
    )
    op.drop_index("ix_matches_passage_id", table_name="matches")


def downgrade() -> None:
    op.create_index("ix_matches_passage_id", "matches", ["passage_id"])
    op.drop_index("ix_passages_rep_id", table_name="passages")
    op.create_index("ix_passages_rep_id", "passages", ["rep_id"])
    op.create_index("ix_passages_canonical_id", "passages", ["canonical_id"])
