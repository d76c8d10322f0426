"""The search index catches up at the start of the next run instead of in every batch.

Migration 0006's triggers indexed each submission as it was filed: FTS5's trigram indexing costs
about 2.4 µs per character, which at bench scale 20 (8 million characters) more than doubled a
run's coordinator time. Here the triggers go; ``meta`` key ``search`` records the highest
submission id the index holds (all of them, so far), and ``search.catch_up`` indexes the rest
while a run's workers process its first batch. A search reads the index up to that id and every
later text directly, so it stays exact in between.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 21:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS submission_search_{trigger}")
    present = bind.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = 'submission_search'")).first()
    if present is not None:
        # No submissions, no row: an index without a row holds nothing, as it should.
        op.execute(
            "INSERT INTO meta (key, value) SELECT 'search', json_object('indexed_through', max(id)) "
            "FROM submissions HAVING max(id) IS NOT NULL"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    op.execute("DELETE FROM meta WHERE key = 'search'")
    present = bind.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = 'submission_search'")).first()
    if present is not None:  # back to 0006: everything indexed, and triggers keep it so
        op.execute("INSERT INTO submission_search (submission_search) VALUES ('rebuild')")
        op.execute(
            "CREATE TRIGGER submission_search_insert AFTER INSERT ON submissions "
            "WHEN new.cleaned_text IS NOT NULL BEGIN "
            "INSERT INTO submission_search (rowid, cleaned_text) VALUES (new.id, new.cleaned_text); END"
        )
