"""What a run tells the operator about a file beyond filing it: a path the ``[ingest] layout``
takes no authority or year from, a new file byte-identical to a document archived under another
path, a document whose file has left the inbox (or come back). Each is a line of the run's log
and an event of the run (``archiver runs show``); nothing archived is ever removed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import ScalarSelect, Select, insert, select, update
from sqlalchemy.orm import Session

from archiver import runlog
from archiver.config import IngestConfig
from archiver.records import Processed, Stored
from archiver.stages import ingest
from archiver.store.bulk import chunks
from archiver.store.db import Document, EventRow, table
from archiver.store.db import Submission as SubmissionRow


def note_batch(session: Session, run_id: int, stored: Sequence[Stored], config: IngestConfig) -> Counter[str]:
    """Log and record the batch's layout problems and identical copies (after ``file_batch``,
    in its transaction); returns how many of each ("layout", "identical")."""
    events: list[dict[str, Any]] = []
    for result in stored:
        relpath = result.outcome.submission.relpath
        problem = ingest.layout_problem(relpath, config.layout, config.years)
        if problem is not None:
            runlog.event(logging.WARNING, "layout", f"{relpath}: {problem}", path=relpath, problem=problem)
            events.append({"kind": "layout", "detail": {"relpath": relpath, "problem": problem}})
    new = [s.outcome.submission for s in stored if s.version == "v1" and isinstance(s.outcome, Processed)]
    for relpath, earlier in _identical(session, {s.relpath: s.sha512 for s in new}):
        message = f"{relpath} is byte-identical to {earlier}, archived before it"
        runlog.event(logging.INFO, "identical", message, path=relpath, identical_to=earlier)
        events.append({"kind": "identical", "detail": {"relpath": relpath, "identical_to": earlier}})
    if events:
        rows = [event | {"run_id": run_id, "submission_id": None} for event in events]
        session.connection().execute(insert(table(EventRow)), rows)
    return Counter(event["kind"] for event in events)


def _identical(session: Session, new: dict[str, str]) -> list[tuple[str, str]]:
    """(new document, the earliest other document whose current bytes are the same), for each
    of ``new`` (relpath → sha512) that has one."""
    holders: dict[str, list[tuple[int, str]]] = {}
    for part in chunks(sorted(set(new.values()))):
        for doc_id, object_id, sha in session.execute(holders_of(part)):
            holders.setdefault(sha or "", []).append((doc_id, object_id))
    found = []
    for relpath, sha in new.items():
        ranked = sorted(holders.get(sha, []))
        own = next(doc_id for doc_id, object_id in ranked if object_id == relpath)
        earlier = [object_id for doc_id, object_id in ranked if doc_id < own]
        if earlier:
            found.append((relpath, earlier[0]))
    return found


def holders_of(hashes: Sequence[str]) -> Select[int, str, str | None]:
    """(id, object id, sha512) of the documents whose current bytes have one of these sha512s
    (answered by ``ix_documents_head_sha512``, not a scan of every document)."""
    return select(Document.id, Document.object_id, Document.head_sha512).where(
        Document.head_sha512.in_(hashes)
    )


def note_missing(session: Session, run_id: int, listed: dict[str, Path], on_missing: str) -> tuple[int, int]:
    """Record each document whose file is no longer among ``listed`` (this run's relpaths) as
    ``withdrawn``, once, and each whose file is back as ``returned``; with ``on_missing =
    "withdraw"`` the withdrawn ones stop being current. Returns (withdrawn, returned)."""
    current = Document.current_submission_id.is_not(None)
    # Documents already reported withdrawn are left out in SQL: read into Python and looked up
    # there, they made the end of every run grow with the archive, not with its inbox.
    present = session.execute(
        select(Document.object_id, Document.current_submission_id)
        .where(current, _last_presence().is_distinct_from("withdrawn"))
        .order_by(Document.id)
    )
    gone = [(o, s) for o, s in present if o not in listed and s is not None]
    returning: list[tuple[int, str, int | None]] = []  # (document id, object id, submission id)
    for part in chunks(sorted(listed)):
        returning += [
            (d, o, s)
            for d, o, s in session.execute(
                select(Document.id, Document.object_id, Document.current_submission_id).where(
                    current, Document.object_id.in_(part), _last_presence() == "withdrawn"
                )
            )
        ]
    back = [(o, s) for _, o, s in sorted(returning) if s is not None]
    withdraw = on_missing == "withdraw"
    events: list[dict[str, Any]] = []
    for object_id, sub_id in gone:
        what = "taken out of the current documents" if withdraw else "still a current document"
        message = f"{object_id} has left the inbox: kept in the archive, {what} ([ingest] on_missing)"
        runlog.event(logging.WARNING, "withdrawn", message, path=object_id, current=not withdraw)
        events.append(
            {
                "submission_id": sub_id,
                "kind": "withdrawn",
                "detail": {"relpath": object_id, "current": not withdraw},
            }
        )
    for object_id, sub_id in back:
        runlog.event(logging.INFO, "returned", f"{object_id} is back in the inbox", path=object_id)
        events.append({"submission_id": sub_id, "kind": "returned", "detail": {"relpath": object_id}})
    if events:
        session.connection().execute(insert(table(EventRow)), [e | {"run_id": run_id} for e in events])
    _set_current(session, [s for _, s in back], True)
    if withdraw:
        _set_current(session, [s for _, s in gone], False)
    return len(gone), len(back)


PRESENCE = ("withdrawn", "returned")  # the events that say whether a document's file is in the inbox


def _last_presence() -> ScalarSelect[str]:
    """The kind of the latest ``PRESENCE`` event of a document's current submission (NULL when it
    has none), for a query of ``Document``."""
    return (
        select(EventRow.kind)
        .where(EventRow.submission_id == Document.current_submission_id, EventRow.kind.in_(PRESENCE))
        .order_by(EventRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _set_current(session: Session, submission_ids: list[int], current: bool) -> None:
    for part in chunks(submission_ids):
        session.execute(
            update(SubmissionRow).where(SubmissionRow.id.in_(part)).values(current=current),
            execution_options={"synchronize_session": False},
        )
