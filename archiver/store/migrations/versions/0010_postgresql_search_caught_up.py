"""PostgreSQL's search index catches up at the start of the next run, as SQLite's does (0007).

Migration 0006 put pg_trgm's GIN index on ``submissions.cleaned_text`` itself, so every
submission filed paid for its trigrams in the file stage's transaction: most of that stage's
time on PostgreSQL. Here the index moves to a table of its own, ``submission_search`` (id,
cleaned text), which ``search_index.catch_up`` fills with the submissions filed since ``meta``
``search`` ``indexed_through`` while a run's workers process its first batch; a search reads
the later texts directly, as on SQLite.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if bind.execute(sa.text("SELECT to_regclass('ix_submissions_cleaned_trgm')")).scalar() is None:
        return  # no pg_trgm (0006): no index, a search reads every text
    op.execute("CREATE TABLE submission_search (id INTEGER PRIMARY KEY, cleaned_text TEXT NOT NULL)")
    op.execute(
        "INSERT INTO submission_search (id, cleaned_text) "
        "SELECT id, cleaned_text FROM submissions WHERE cleaned_text IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX submission_search_trgm ON submission_search USING gin (cleaned_text gin_trgm_ops)"
    )
    op.execute("DROP INDEX ix_submissions_cleaned_trgm")
    # No submissions, no row: an index without a row holds nothing, as it should.
    op.execute(
        "INSERT INTO meta (key, value) SELECT 'search', json_build_object('indexed_through', max(id)) "
        "FROM submissions HAVING max(id) IS NOT NULL"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if bind.execute(sa.text("SELECT to_regclass('submission_search')")).scalar() is None:
        return
    op.execute("DROP TABLE submission_search")
    op.execute("DELETE FROM meta WHERE key = 'search'")
    op.execute(
        "CREATE INDEX ix_submissions_cleaned_trgm ON submissions USING gin (cleaned_text gin_trgm_ops)"
    )
