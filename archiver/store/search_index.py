"""The search index's bookkeeping (migrations 0006, 0007, 0010): which submissions it holds.

The table ``submission_search`` (SQLite: FTS5 trigram; PostgreSQL: a copy of the texts under
pg_trgm's GIN index) holds the cleaned texts of the submissions up to ``meta`` ``search``
``indexed_through``; ``catch_up`` adds the ones filed since, and a run calls it while its
workers process the first batch, so the trigram indexing (on SQLite about 2.4 µs a character)
is not on the path every batch waits on. ``audit.search`` reads the later texts directly.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from archiver.store.db import SEARCH_INDEX, Meta
from archiver.store.db import Submission as SubmissionRow

SEARCH_META = "search"  # meta key: {"indexed_through": the highest submission id in the index}
ID_COLUMN = {"sqlite": "rowid", "postgresql": "id"}  # the index's submission id


def has_search_index(session: Session) -> bool:
    """Whether the index is there (migration 0006 leaves it out before SQLite 3.34, and on
    PostgreSQL without pg_trgm)."""
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(text("SELECT to_regclass(:name)"), {"name": SEARCH_INDEX}) is not None
    present = session.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"), {"name": SEARCH_INDEX}
    ).first()
    return present is not None


def indexed_through(session: Session) -> int:
    """The highest submission id the SQLite search index holds (0: none)."""
    row = session.get(Meta, SEARCH_META)
    return int(row.value.get("indexed_through", 0)) if row is not None else 0


def catch_up(session: Session) -> int:
    """Add the submissions filed since the index last caught up to it (in the caller's
    transaction); returns how many. A run calls it while its workers process the first batch."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql") or not has_search_index(session):
        return 0
    start = indexed_through(session)
    last = session.scalar(select(func.max(SubmissionRow.id))) or 0
    if last <= start:
        return 0
    added = (
        session.connection()
        .execute(
            text(
                f"INSERT INTO {SEARCH_INDEX} ({ID_COLUMN[dialect]}, cleaned_text) "
                "SELECT id, cleaned_text FROM submissions "
                "WHERE id > :start AND id <= :last AND cleaned_text IS NOT NULL ORDER BY id"
            ),
            {"start": start, "last": last},
        )
        .rowcount
    )
    row = session.get(Meta, SEARCH_META)
    if row is None:
        session.add(Meta(key=SEARCH_META, value={"indexed_through": last}))
    else:
        row.value = {"indexed_through": last}
    session.flush()
    return int(added or 0)


__all__ = ["SEARCH_META", "catch_up", "has_search_index", "indexed_through"]
