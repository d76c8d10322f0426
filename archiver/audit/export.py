"""``archiver export --format jsonl``: one line per current submission, in the benchmark kit's
format (``../shared/bench/README.md``): status, reason, encoding, cleaned text, removed repeats
and cross-submission matches (each pair once, from its later side)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from archiver.audit.reuse import copy_kind
from archiver.index.pairs import pairs_of
from archiver.index.spans import copied_of
from archiver.store.bulk import chunks
from archiver.store.db import MatchRow, PassageRow, in_relpath_order
from archiver.store.db import Submission as SubmissionRow


def export_lines(session: Session) -> Iterator[str]:
    rows = session.execute(
        select(SubmissionRow.id, SubmissionRow.relpath).where(SubmissionRow.current.is_(True))
    ).all()
    for submission_id, _ in in_relpath_order(rows):
        yield jsonl_line(export_record(session, submission_id))


# Characters ``str.splitlines`` (and other readers of "lines") break at that JSON leaves as they
# are: written as escapes, a record stays on one line for every reader. JSON escapes the rest.
_LINE_BREAKS_JSON_KEEPS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def jsonl_line(record: dict[str, Any]) -> str:
    """``record`` as one line of JSON, UTF-8 text kept readable."""
    return json.dumps(record, ensure_ascii=False).translate(_LINE_BREAKS_JSON_KEEPS)


def export_record(session: Session, submission_id: int) -> dict[str, Any]:
    row = session.get_one(SubmissionRow, submission_id)
    record: dict[str, Any] = {
        "file": row.relpath,
        "status": row.status,
        "reason": row.reason,
        "encoding": row.encoding,
        "authority": row.authority,
        "year": row.year,
        "version": row.version,
        "cleaned_text": row.cleaned_text or "",
        "removed": [],
        "matches": [],
    }
    if row.status != "archived":
        return record
    repeated = aliased(PassageRow)
    record["removed"] = [
        {"text": text, "repeats": other_text, "similarity": score}
        for text, other_text, score in session.execute(
            select(PassageRow.text, repeated.text, MatchRow.similarity)
            .join(MatchRow, MatchRow.passage_id == PassageRow.id)
            .join(repeated, repeated.id == MatchRow.other_id)
            .where(PassageRow.submission_id == submission_id, PassageRow.removed.is_(True))
            .order_by(PassageRow.idx)
        )
    ]
    record["matches"] = _matches(session, submission_id)
    record["reused"] = _reused(session, row)
    return record


def _reused(session: Session, row: SubmissionRow) -> list[dict[str, Any]]:
    """The character ranges of the cleaned text copied from an eligible submission, each with
    the file it is shared with (the kit's ``reused`` field)."""
    copied = copied_of(session, row.id)
    others = {c.other_submission_id for c in copied}
    where: dict[int, tuple[str, int | None, str | None]] = {}
    for part in chunks(sorted(others)):
        for id_, relpath, year, authority in session.execute(
            select(
                SubmissionRow.id, SubmissionRow.relpath, SubmissionRow.year, SubmissionRow.authority
            ).where(SubmissionRow.id.in_(part))
        ):
            where[id_] = (relpath, year, authority)
    spans = sorted(
        {
            (c.start, c.end, where[c.other_submission_id][0])
            for c in copied
            if copy_kind(row.year, row.authority, *where[c.other_submission_id][1:], c)
        }
    )
    return [{"start": a, "end": b, "other_file": f} for a, b, f in spans]


def _matches(session: Session, submission_id: int) -> list[dict[str, Any]]:
    pairs = list(pairs_of(session, submission_id))
    ids = sorted({p.passage_id for p in pairs} | {p.other_id for p in pairs})
    info: dict[int, tuple[str, str]] = {}
    for part in chunks(ids):
        rows = session.execute(
            select(PassageRow.id, PassageRow.text, SubmissionRow.relpath)
            .join(SubmissionRow, SubmissionRow.id == PassageRow.submission_id)
            .where(PassageRow.id.in_(part))
        )
        info.update({id_: (text, relpath) for id_, text, relpath in rows})
    return [
        {
            "text": info[p.passage_id][0],
            "other_file": info[p.other_id][1],
            "other_text": info[p.other_id][0],
            "similarity": p.similarity,
        }
        for p in pairs
    ]
