"""ix_documents_head_sha512: a new document's identical earlier ones are found by an index.

Every run asks which earlier documents hold the same bytes as its new ones
(``notes._identical``, ``documents.head_sha512 IN (…)``); without an index SQLite scanned every
document for it, a cost that grew with the archive on every night.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 00:30:00
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_documents_head_sha512", "documents", ["head_sha512"])


def downgrade() -> None:
    op.drop_index("ix_documents_head_sha512", table_name="documents")
