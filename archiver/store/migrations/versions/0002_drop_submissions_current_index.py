"""drop ix_submissions_current: SQLite chose it for "document_id IN (...) AND current" and
walked every current submission (0.7 s a night at 50,000 submissions); the document_id index
answers those lookups, and the queries that want all current rows read the table anyway.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 01:00:00
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index("ix_submissions_current")


def downgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.create_index("ix_submissions_current", ["current"], unique=False)
