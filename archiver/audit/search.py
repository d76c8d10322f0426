"""Full-text search of the archived cleaned text: ``archiver search QUERY``.

A query is a literal substring (Chinese needs no segmentation): a document is found exactly
when its current cleaned text contains the query, case and all. The database narrows the
candidates with its trigram index (migration 0006) and checks the substring itself:

- SQLite: FTS5 ``trigram`` answers GLOB on the query's runs of three or more characters
  without GLOB's special characters (``*?[`` cannot be escaped without losing the index);
  ``instr`` then checks the whole query. A query with no such run (one or two characters)
  reads every current text, as a trigram index cannot help it. The index holds the submissions
  up to ``meta`` ``search`` ``indexed_through``; the later ones (the last run's, until the next
  run's ``catch_up``) are read directly.
- PostgreSQL: ``LIKE '%…%'`` on ``submission_search`` (pg_trgm's GIN index, when present;
  caught up like SQLite's, migration 0010) and ``strpos``.

Snippets and counts are computed here, from the texts found, the same way on both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, literal_column, or_, select, text
from sqlalchemy.orm import Session

from archiver.errors import InputError
from archiver.store.db import SEARCH_INDEX
from archiver.store.db import Submission as SubmissionRow
from archiver.store.search_index import has_search_index, indexed_through

TRIGRAM = 3
GLOB_SPECIAL = re.compile(r"[*?\[]")
CONTEXT = 24  # characters each side of a hit in a snippet
SNIPPETS = 3  # snippets per document


@dataclass(frozen=True)
class Snippet:
    before: str
    match: str
    after: str
    start: int  # offset of the match in the cleaned text


@dataclass(frozen=True)
class Found:
    file: str
    authority: str | None
    year: int | None
    title: str
    hits: int  # occurrences of the query (non-overlapping)
    snippets: tuple[Snippet, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "authority": self.authority,
            "year": self.year,
            "title": self.title,
            "hits": self.hits,
            "snippets": [
                {"before": s.before, "match": s.match, "after": s.after, "start": s.start}
                for s in self.snippets
            ],
        }


def search(session: Session, query: str, limit: int | None = None) -> list[Found]:
    """The current documents whose cleaned text contains ``query``: most hits first, then by file."""
    if not query:
        raise InputError("an empty query finds everything; give the text to search for")
    rows = session.execute(_candidates(session, query)).all()
    found = [_found(row, query) for row in rows]
    found.sort(key=lambda f: (-f.hits, f.file))
    return found if limit is None else found[:limit]


Candidates = Select[str, str | None, int | None, str | None, str | None]


def _candidates(session: Session, query: str) -> Candidates:
    s = SubmissionRow
    statement = select(s.relpath, s.authority, s.year, s.title, s.cleaned_text).where(
        s.current.is_(True), s.status == "archived"
    )
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        runs = glob_runs(query)
        if runs and has_search_index(session):
            globbed = [literal_column("cleaned_text").op("GLOB")(f"*{run}*") for run in runs]
            statement = _indexed(session, statement, "rowid", and_(*globbed))
        return statement.where(func.instr(s.cleaned_text, query) > 0)
    if dialect == "postgresql":
        if has_search_index(session):
            liked = literal_column("cleaned_text").like(f"%{like_escape(query)}%", escape="\\")
            statement = _indexed(session, statement, "id", liked)
        return statement.where(func.strpos(s.cleaned_text, query) > 0)
    return statement.where(s.cleaned_text.contains(query, autoescape=True))


def _indexed(session: Session, statement: Candidates, id_column: str, condition: Any) -> Candidates:
    """``statement`` narrowed to the texts the search index finds by ``condition``, and the
    texts filed since it last caught up, read directly."""
    ids: Select[Any] = select(literal_column(id_column)).select_from(text(SEARCH_INDEX)).where(condition)
    s = SubmissionRow
    return statement.where(or_(s.id.in_(ids), s.id > indexed_through(session)))


def glob_runs(query: str) -> list[str]:
    """The parts of ``query`` between GLOB's special characters that the trigram index can
    answer (three characters or more)."""
    return [run for run in GLOB_SPECIAL.split(query) if len(run) >= TRIGRAM]


def like_escape(query: str) -> str:
    return query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _found(row: Sequence[Any], query: str) -> Found:
    relpath, authority, year, title, cleaned = row
    starts = occurrences(cleaned, query)
    return Found(
        relpath,
        authority,
        year,
        title or "",
        len(starts),
        tuple(snippet(cleaned, query, s) for s in starts[:SNIPPETS]),
    )


def occurrences(text_: str, query: str) -> list[int]:
    """Offsets of the non-overlapping occurrences of ``query`` in ``text_``."""
    out: list[int] = []
    at = text_.find(query)
    while at >= 0:
        out.append(at)
        at = text_.find(query, at + len(query))
    return out


def snippet(text_: str, query: str, start: int, context: int = CONTEXT) -> Snippet:
    """The hit at ``start`` with up to ``context`` characters each side, line breaks as spaces."""
    end = start + len(query)

    def flat(part: str) -> str:
        return part.replace("\n", " ")

    before = ("…" if start > context else "") + flat(text_[max(0, start - context) : start])
    after = flat(text_[end : end + context]) + ("…" if end + context < len(text_) else "")
    return Snippet(before, flat(text_[start:end]), after, start)


__all__ = ["Found", "Snippet", "glob_runs", "occurrences", "search", "snippet"]
