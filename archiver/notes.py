"""What a run tells the operator about a file beyond filing it: a path the ``[ingest] layout``
takes no authority or year from, and a new file byte-identical to a document archived under
another path. Each is a line of the run's log and an event of the run (``archiver runs show``);
the files are archived as usual.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from archiver import runlog
from archiver.config import IngestConfig
from archiver.records import Processed, Stored
from archiver.stages import ingest
from archiver.store.bulk import chunks
from archiver.store.db import Document, EventRow, table


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
        rows = session.execute(
            select(Document.id, Document.object_id, Document.head_sha512).where(
                Document.head_sha512.in_(part)
            )
        )
        for doc_id, object_id, sha in rows:
            holders.setdefault(sha or "", []).append((doc_id, object_id))
    found = []
    for relpath, sha in new.items():
        ranked = sorted(holders.get(sha, []))
        own = next(doc_id for doc_id, object_id in ranked if object_id == relpath)
        earlier = [object_id for doc_id, object_id in ranked if doc_id < own]
        if earlier:
            found.append((relpath, earlier[0]))
    return found
