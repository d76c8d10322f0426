"""Indexing a batch of stored submissions: their rows in the database, in bulk.

The object versions are already in the vault (``objects.py``, written by the workers); this adds
documents, submissions, sections, passages, repeats inside submissions and events for a whole
batch with a handful of statements, in the caller's transaction. The passages' ids are taken
first and their rows written last (``file_passages``), once the linker has worked out each
paragraph's group and canonical passage: written with the row, not by an UPDATE of it after.
The rows themselves are made by the workers (``prepare``), which run side by side: the
coordinator, one process filing what all of them send, only gives them their ids.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from archiver import __version__
from archiver.records import Filed, NewParagraph, Prepared, Processed, Stored
from archiver.stages import fingerprint
from archiver.store.bulk import JSONText, chunks, fetch_sql, insert_tuples, new_ids, placeholder
from archiver.store.db import (
    MATCH_COLUMNS,
    Document,
    EventRow,
    MatchRow,
    PassageRow,
    SectionRow,
    table,
    utcnow,
)
from archiver.store.db import Submission as SubmissionRow

# relpath → (document id, its current submission id, head sha512, head version) of documents
# already archived.
Archived = dict[str, tuple[int, int | None, str | None, str | None]]


def archived_documents_of(session: Session, relpaths: Sequence[str]) -> Archived:
    """The documents of ``relpaths`` already archived (``Archived``), read once a batch: a run
    reads them before the batch is processed (the heads for the workers, the ids for
    ``file_batch``); ``file_batch`` reads them itself when not given them.

    Through the driver (``fetch_sql``): SQLAlchemy's compiling of a SELECT of 64 bound paths
    cost the coordinator more than SQLite's answer."""
    connection = session.connection()
    found: Archived = {}
    for part in chunks(sorted(set(relpaths))):
        listed = ", ".join([placeholder(connection)] * len(part))
        rows = fetch_sql(connection, f"{_ARCHIVED_SQL} ({listed})", part)
        found.update(
            {object_id: (doc_id, current, sha, version) for object_id, doc_id, current, sha, version in rows}
        )
    return found


_ARCHIVED_SQL = (
    "SELECT object_id, id, current_submission_id, head_sha512, head_version"
    f" FROM {Document.__tablename__} WHERE object_id IN"
)


def file_batch(
    session: Session,
    run_id: int,
    batch: Sequence[Stored],
    archived_documents: Archived | None = None,
) -> Filed:
    """Add the rows of every stored submission of ``batch`` (no commit: the caller's transaction),
    but its passages': their ids are taken and their rows returned (``Filed.passages``), for
    ``file_passages`` once the linker knows their groups. The rows are the workers'
    (``Stored.rows``, ``prepare``): here they are only numbered. ``archived_documents``: the
    batch's documents already archived (``archived_documents_of``), where the caller read them
    (a run, before the batch was processed); else they are read here."""
    if not batch:
        return Filed(0, 0, ())
    paths = [s.outcome.submission.relpath for s in batch]
    if archived_documents is None:
        archived_documents = archived_documents_of(session, paths)
    # relpath → (document id, its current submission id); (None, None) for new documents.
    documents: dict[str, tuple[int | None, int | None]] = {
        path: archived_documents[path][:2] if path in archived_documents else (None, None) for path in paths
    }
    known = [doc_id for doc_id, _ in documents.values() if doc_id is not None]
    new = [s for s in batch if documents[s.outcome.submission.relpath][0] is None]
    _supersede(session, known)
    doc_ids = {relpath: doc_id for relpath, (doc_id, _) in documents.items() if doc_id is not None}
    new_paths = sorted({s.outcome.submission.relpath for s in new})
    new_doc_ids = new_ids(session.connection(), table(Document), len(new_paths))
    doc_ids |= dict(zip(new_paths, new_doc_ids, strict=True))
    sub_ids = new_ids(session.connection(), table(SubmissionRow), len(batch))
    heads = _heads(batch, doc_ids, sub_ids)
    # A new document's row is written whole; a known one's head is moved by an UPDATE.
    documents_rows = [
        (doc_id, path, *heads[doc_id]) for path, doc_id in zip(new_paths, new_doc_ids, strict=True)
    ]
    insert_tuples(session.connection(), table(Document), documents_rows, ("id", "object_id", *HEAD_COLUMNS))
    _insert_submissions(session, run_id, batch, doc_ids, sub_ids)
    _update_documents(session, {doc_id: heads[doc_id] for doc_id in known})
    paragraphs: list[NewParagraph] = []
    sections: list[tuple[Any, ...]] = []
    archived = [(s.rows, sub_id) for s, sub_id in zip(batch, sub_ids, strict=True) if s.rows is not None]
    for rows, sub_id in archived:
        sections += [(sub_id, *row) for row in rows.sections]
    insert_tuples(session.connection(), table(SectionRow), sections, SECTION_COLUMNS)
    # A submission's passages take consecutive ids in index order: a passage's id is its
    # submission's first plus its position, with no map from (submission, index) to id.
    ids = new_ids(session.connection(), table(PassageRow), sum(len(r.passages) for r, _ in archived))
    next_id = ids[0] if ids else 0
    matches: list[tuple[Any, ...]] = []
    passages: list[tuple[int, int, tuple[tuple[Any, ...], ...]]] = []
    firsts: dict[int, int] = {}
    for rows, sub_id in archived:
        if not rows.passages:
            continue
        base, next_id = next_id, next_id + len(rows.passages)
        firsts[sub_id] = base
        passages.append((base, sub_id, rows.passages))
        matches += [(base + a, base + b, sim, "intra", action) for a, b, sim, action in rows.repeats]
        paragraphs += [
            NewParagraph(base + at, sub_id, exact, signature, normalised, rows.year, anchors)
            for at, exact, signature, normalised, anchors in rows.paragraphs
        ]
    insert_tuples(session.connection(), table(MatchRow), matches, MATCH_COLUMNS)
    events = [
        (
            run_id,
            sub_id,
            _status(s),
            {"version": s.version, "written": s.written, "tool_version": __version__},
            utcnow(),
        )
        for s, sub_id in zip(batch, sub_ids, strict=True)
    ]
    insert_tuples(session.connection(), table(EventRow), events, EVENT_COLUMNS)
    return Filed(len(new), len(batch) - len(new), tuple(paragraphs), firsts, tuple(passages))


def _status(stored: Stored) -> str:
    return "archived" if isinstance(stored.outcome, Processed) else "rejected"


def _supersede(session: Session, document_ids: list[int]) -> None:
    """The earlier versions of re-filed documents stop being current."""
    for part in chunks(document_ids):
        session.execute(
            update(SubmissionRow).where(SubmissionRow.document_id.in_(part)).values(current=False),
            execution_options={"synchronize_session": False},
        )


def _insert_submissions(
    session: Session, run_id: int, batch: Sequence[Stored], doc_ids: dict[str, int], ids: list[int]
) -> None:
    rows = []
    for stored, id_ in zip(batch, ids, strict=True):
        outcome, submission = stored.outcome, stored.outcome.submission
        archived = isinstance(outcome, Processed)
        rows.append(
            {
                "id": id_,
                "run_id": run_id,
                "document_id": doc_ids[submission.relpath],
                "relpath": submission.relpath,
                "sha512": submission.sha512,
                "size": stored.size,
                "status": "archived" if archived else "rejected",
                "reason": None if isinstance(outcome, Processed) else outcome.reason,
                "detail": None if isinstance(outcome, Processed) else outcome.detail,
                "encoding": outcome.decoded.encoding if isinstance(outcome, Processed) else None,
                "confidence": outcome.decoded.confidence if isinstance(outcome, Processed) else None,
                "authority": submission.authority,
                "year": outcome.year if isinstance(outcome, Processed) else submission.year,
                "title": outcome.title if isinstance(outcome, Processed) else None,
                "version": stored.version,
                "current": True,
                "cleaned_text": outcome.text if isinstance(outcome, Processed) else None,
                # The full list of changes lives in provenance.json; the index keeps the rest.
                "report": None if stored.report is None else JSONText(stored.report),
                "received": utcnow(),
            }
        )
    insert_tuples(
        session.connection(), table(SubmissionRow), [tuple(r.values()) for r in rows], list(rows[0])
    )


# A document's head: its current submission's fields, ``_heads``' values in this order.
HEAD_COLUMNS = ("authority", "year", "title", "head_version", "head_sha512", "current_submission_id")


def _heads(
    batch: Sequence[Stored], doc_ids: dict[str, int], sub_ids: list[int]
) -> dict[int, tuple[Any, ...]]:
    """Document id → its head (``HEAD_COLUMNS``) after the batch: its last submission's."""
    return {
        doc_ids[s.outcome.submission.relpath]: (
            s.outcome.submission.authority,
            s.outcome.year if isinstance(s.outcome, Processed) else s.outcome.submission.year,
            s.outcome.title if isinstance(s.outcome, Processed) else None,
            s.version,
            s.outcome.submission.sha512,
            sub_id,
        )
        for s, sub_id in zip(batch, sub_ids, strict=True)
    }


def _update_documents(session: Session, heads: Mapping[int, tuple[Any, ...]]) -> None:
    """Move the heads of known documents (document id → ``HEAD_COLUMNS``)."""
    if not heads:
        return
    target = table(Document)
    statement = (
        update(target)
        .where(target.c.id == bindparam("doc_id"))
        .values({name: bindparam(name) for name in HEAD_COLUMNS})
    )
    rows = [
        {"doc_id": doc_id, **dict(zip(HEAD_COLUMNS, head, strict=True))} for doc_id, head in heads.items()
    ]
    session.connection().execute(statement, rows)


SECTION_COLUMNS = ("submission_id", "idx", "level", "number", "heading", "start", "end")

# The columns of a passage row as filed; rep_id and canonical_id come from the linker.
PASSAGE_COLUMNS = (
    "submission_id",
    "idx",
    "kind",
    "section_idx",
    "start",
    "end",
    "text",
    "removed",
    "exact",
    "chars",
    "signature",
    "year",
)


def prepare(outcome: Processed, min_chars: int) -> Prepared:
    """The rows of ``outcome`` as ``file_batch`` writes them, but for ids: made by the worker
    (``_objects``), which runs in parallel with the others, so that the coordinator, one
    process filing what all of them send, only numbers them. The rows share their values
    (texts, signatures) with ``outcome``, so they add little to its pickle."""
    prints = {f.passage: f for f in outcome.fingerprints}
    removed = {p.index for p in outcome.removed}
    ordered = sorted([*outcome.passages, *outcome.removed], key=lambda p: p.index)
    position = {p.index: at for at, p in enumerate(ordered)}
    passages = tuple(
        (
            p.index,
            p.kind,
            p.section,
            None if p.index in removed else p.start,
            None if p.index in removed else p.end,
            p.text,
            p.index in removed,
            prints[p.index].exact,
            prints[p.index].normalised_chars,
            prints[p.index].signature,
            outcome.year,
        )
        for p in ordered
    )
    sections = tuple(
        (i, x.level, x.number, x.heading, x.start, x.end) for i, x in enumerate(outcome.sections)
    )
    repeats = tuple(
        (position[r.passage], position[r.of], r.similarity, "removed" if r.removed else "warned")
        for r in outcome.repeats
    )
    paragraphs = tuple(
        (
            position[p.index],
            prints[p.index].exact,
            prints[p.index].signature,
            prints[p.index].normalised,
            prints[p.index].anchors,
        )
        for p in outcome.passages
        if fingerprint.reusable(p.kind, prints[p.index].normalised_chars, min_chars)
    )
    return Prepared(passages, sections, repeats, paragraphs, outcome.year)


def report_json(report: dict[str, Any]) -> str:
    """A clerk's report as ``submissions.report`` holds it: the text SQLAlchemy's JSON type
    writes (``json.dumps`` with its defaults), made by the worker (``Stored.report``)."""
    return json.dumps(report)


def file_passages(
    session: Session,
    passages: Sequence[tuple[int, int, Sequence[tuple[Any, ...]]]],
    groups: Mapping[int, tuple[int, int | None]],
) -> None:
    """Write the rows ``file_batch`` returned (``Filed.passages``: each submission's first
    passage id, its id and its rows), each paragraph's with its group and canonical passage
    from ``groups`` (passage id → (rep_id, canonical_id)): the other passages (headings, short
    or removed ones) have neither.

    Plain tuples through the driver, each row made once here: a batch has thousands of
    passages, and SQLAlchemy's per-row parameter handling cost more than SQLite's insert."""
    neither = (None, None)
    rows = [
        (first + at, sub_id, *row, *groups.get(first + at, neither))
        for first, sub_id, prepared in passages
        for at, row in enumerate(prepared)
    ]
    insert_tuples(
        session.connection(), table(PassageRow), rows, ("id", *PASSAGE_COLUMNS, "rep_id", "canonical_id")
    )


EVENT_COLUMNS = ("run_id", "submission_id", "kind", "detail", "created")
