"""The full-text search index of the archived cleaned text (``archiver search``).

SQLite: an FTS5 table with the ``trigram`` tokenizer (case-sensitive) over
``submissions.cleaned_text`` as external content, kept up by triggers on ``submissions``, so
every way a submission row is written (run, reindex, tests) indexes it, in the same
transaction. ``detail=none``: substring queries go through GLOB, which FTS5 answers from the
trigrams and re-checks against the text, so positions would only make the index larger.

SQLite before 3.34 has no trigram tokenizer: there the table is left out, as on PostgreSQL
without ``pg_trgm``.

PostgreSQL: ``pg_trgm``'s GIN index on ``cleaned_text`` answers ``LIKE '%…%'``. Where the
extension cannot be created (no contrib package, no privilege) the index is left out and a
search reads every text: slower, same answers.

Existing archives get the index built here.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 20:40:00
"""

import sqlite3

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SQLITE = [
    "CREATE VIRTUAL TABLE submission_search USING fts5(cleaned_text, content='submissions', "
    "content_rowid='id', tokenize='trigram case_sensitive 1', detail=none)",
    "CREATE TRIGGER submission_search_insert AFTER INSERT ON submissions "
    "WHEN new.cleaned_text IS NOT NULL BEGIN "
    "INSERT INTO submission_search (rowid, cleaned_text) VALUES (new.id, new.cleaned_text); END",
    "CREATE TRIGGER submission_search_delete AFTER DELETE ON submissions "
    "WHEN old.cleaned_text IS NOT NULL BEGIN "
    "INSERT INTO submission_search (submission_search, rowid, cleaned_text) "
    "VALUES ('delete', old.id, old.cleaned_text); END",
    "CREATE TRIGGER submission_search_update AFTER UPDATE OF cleaned_text ON submissions BEGIN "
    "INSERT INTO submission_search (submission_search, rowid, cleaned_text) "
    "SELECT 'delete', old.id, old.cleaned_text WHERE old.cleaned_text IS NOT NULL; "
    "INSERT INTO submission_search (rowid, cleaned_text) "
    "SELECT new.id, new.cleaned_text WHERE new.cleaned_text IS NOT NULL; END",
    "INSERT INTO submission_search (rowid, cleaned_text) "
    "SELECT id, cleaned_text FROM submissions WHERE cleaned_text IS NOT NULL",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        if sqlite3.sqlite_version_info < (3, 34, 0):
            return
        for statement in SQLITE:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        try:
            with bind.begin_nested():
                bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        except DBAPIError:
            return
        op.execute(
            "CREATE INDEX ix_submissions_cleaned_trgm ON submissions "
            "USING gin (cleaned_text gin_trgm_ops)"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS submission_search_{trigger}")
        op.execute("DROP TABLE IF EXISTS submission_search")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_submissions_cleaned_trgm")
