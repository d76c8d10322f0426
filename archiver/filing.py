"""Filing one processed submission: a new object version in the vault, rows in the database.

The vault write comes first and is atomic; the rows follow in the caller's transaction. If the
process dies in between, the next run finds the document's head unchanged in the database,
processes the file again, and the vault answers with the version it already holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from archiver import __version__, fingerprint
from archiver.config import Config
from archiver.db import Document, EventRow, MatchRow, PassageRow, SectionRow, table
from archiver.db import Submission as SubmissionRow
from archiver.index import NewParagraph, reusable
from archiver.records import Processed, Rejection, Submission
from archiver.report import clerk_report
from archiver.vault import Vault


@dataclass(frozen=True)
class Filed:
    submission_id: int
    version: str
    new_document: bool
    new_version: bool  # a changed file at a known place
    paragraphs: tuple[NewParagraph, ...]  # kept paragraphs for the cross-submission linker


def object_files(
    outcome: Processed | Rejection, config: Config, report: dict[str, Any] | None = None
) -> dict[str, bytes]:
    """The logical files of the object version for ``outcome``."""
    submission = outcome.submission
    name = PurePosixPath(submission.relpath).name
    files = {f"original/{name}": submission.raw}
    provenance: dict[str, Any] = {
        "tool": "archiver",
        "tool_version": __version__,
        "received_as": submission.relpath,
        "sha512": submission.sha512,
        "bytes": len(submission.raw),
    }
    if isinstance(outcome, Rejection):
        provenance |= {"status": "rejected", "reason": outcome.reason, "detail": outcome.detail}
    else:
        files[f"cleaned/{PurePosixPath(name).stem}.txt"] = outcome.text.encode("utf-8")
        provenance |= {
            "status": "archived",
            "parameters": {
                "clean": config.clean.__dict__,
                "split": config.split.__dict__,
                "match": config.match.__dict__,
                "fingerprint": fingerprint.parameters(config.fingerprint),
            },
            "report": report if report is not None else clerk_report(outcome),
        }
    files["provenance.json"] = json.dumps(
        provenance, ensure_ascii=False, separators=(",", ":"), default=str
    ).encode("utf-8")
    return files


def file_outcome(
    session: Session, vault: Vault, run_id: int, outcome: Processed | Rejection, config: Config
) -> Filed:
    """Write ``outcome`` to the vault and add its rows (no commit: the caller's transaction)."""
    submission = outcome.submission
    report = clerk_report(outcome) if isinstance(outcome, Processed) else None
    files = object_files(outcome, config, report)
    stored = vault.store(submission.relpath, files, f"received {submission.relpath}")
    document = session.scalar(select(Document).where(Document.object_id == submission.relpath))
    new_document = document is None
    if document is None:
        document = Document(object_id=submission.relpath)
        session.add(document)
    elif document.current_submission_id is not None:
        session.execute(
            update(SubmissionRow).where(SubmissionRow.document_id == document.id).values(current=False)
        )
    year, title = (outcome.year, outcome.title) if isinstance(outcome, Processed) else (submission.year, None)
    document.authority, document.year, document.title = submission.authority, year, title
    document.head_version, document.head_sha512 = stored.version, submission.sha512
    session.flush()
    row = _submission_row(outcome, submission, document.id, run_id, stored.version, year, title)
    if report is not None:
        # The full list of changes lives in provenance.json; the index keeps the summary.
        row.report = {k: v for k, v in report.items() if k != "changes"}
    session.add(row)
    session.flush()
    document.current_submission_id = row.id
    paragraphs: tuple[NewParagraph, ...] = ()
    if isinstance(outcome, Processed):
        paragraphs = _file_text(session, row.id, outcome, config.fingerprint.min_chars)
    session.add(
        EventRow(
            run_id=run_id,
            submission_id=row.id,
            kind=row.status,
            detail={
                "version": stored.version,
                "written": stored.created,
                "tool_version": __version__,
            },
        )
    )
    return Filed(row.id, stored.version, new_document, not new_document, paragraphs)


def _submission_row(
    outcome: Processed | Rejection,
    submission: Submission,
    document_id: int,
    run_id: int,
    version: str,
    year: int | None,
    title: str | None,
) -> SubmissionRow:
    row = SubmissionRow(
        run_id=run_id,
        document_id=document_id,
        relpath=submission.relpath,
        sha512=submission.sha512,
        size=len(submission.raw),
        authority=submission.authority,
        year=year,
        title=title,
        version=version,
        current=True,
    )
    if isinstance(outcome, Rejection):
        row.status, row.reason, row.detail = "rejected", outcome.reason, outcome.detail
    else:
        row.status = "archived"
        row.encoding, row.confidence = outcome.decoded.encoding, outcome.decoded.confidence
        row.cleaned_text = outcome.text
    return row


def _file_text(
    session: Session, submission_id: int, outcome: Processed, min_chars: int
) -> tuple[NewParagraph, ...]:
    """Sections, passages (kept and removed) and intra-submission matches of one submission."""
    if outcome.sections:
        session.execute(
            insert(table(SectionRow)),
            [
                {
                    "submission_id": submission_id,
                    "idx": i,
                    "level": s.level,
                    "number": s.number,
                    "heading": s.heading,
                    "start": s.start,
                    "end": s.end,
                }
                for i, s in enumerate(outcome.sections)
            ],
        )
    prints = {f.passage: f for f in outcome.fingerprints}
    passages = sorted([*outcome.passages, *outcome.removed], key=lambda p: p.index)
    removed = {p.index for p in outcome.removed}
    rows = [
        {
            "submission_id": submission_id,
            "idx": p.index,
            "kind": p.kind,
            "section_idx": p.section,
            "start": None if p.index in removed else p.start,
            "end": None if p.index in removed else p.end,
            "text": p.text,
            "removed": p.index in removed,
            "exact": prints[p.index].exact,
            "chars": prints[p.index].normalised_chars,
            "signature": prints[p.index].signature,
            "year": outcome.year,
        }
        for p in passages
    ]
    if not rows:
        return ()
    passage_table = table(PassageRow)
    returning = insert(passage_table).returning(passage_table.c.id, sort_by_parameter_order=True)
    ids = list(session.connection().execute(returning, rows).scalars())
    id_of = {p.index: id_ for p, id_ in zip(passages, ids, strict=True)}
    if outcome.repeats:
        session.execute(
            insert(table(MatchRow)),
            [
                {
                    "passage_id": id_of[r.passage],
                    "other_id": id_of[r.of],
                    "similarity": r.similarity,
                    "kind": "intra",
                    "action": "removed" if r.removed else "warned",
                }
                for r in outcome.repeats
            ],
        )
    return tuple(
        NewParagraph(
            id_of[p.index],
            submission_id,
            prints[p.index].exact,
            prints[p.index].signature,
            prints[p.index].normalised,
        )
        for p in outcome.passages
        if reusable(p.kind, prints[p.index].normalised_chars, min_chars)
    )
