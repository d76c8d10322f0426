"""spans: the aligned character regions of cross pairs (copied sentences, embedded and edited
paragraphs), so that reuse is counted in characters.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 20:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("passage_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("other_start", sa.Integer(), nullable=False),
        sa.Column("other_end", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("longest", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_spans_passage_id", "spans", ["passage_id"])
    op.create_index("ix_spans_other_id", "spans", ["other_id"])


def downgrade() -> None:
    op.drop_index("ix_spans_other_id", table_name="spans")
    op.drop_index("ix_spans_passage_id", table_name="spans")
    op.drop_table("spans")
