"""``archiver export --format jsonl``: one line per current submission, in the benchmark kit's
format (``../shared/bench/README.md``): status, reason, encoding, cleaned text, removed repeats
and cross-submission matches (each pair once, from its later side).

Submissions are read in batches of ``spans.BATCH``: each table is read once per batch (the copied spans
as the link stage stored them, ``spans.copied_of_many``), so an archive of any size is exported
in the memory of one batch."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from archiver.audit.reuse import copy_kind
from archiver.index.pairs import Pair, pairs_of
from archiver.index.spans import BATCH, Copied, copied_of_many
from archiver.store.bulk import chunks
from archiver.store.db import MatchRow, PassageRow, in_relpath_order
from archiver.store.db import Submission as SubmissionRow


def export_lines(session: Session) -> Iterator[str]:
    rows = session.execute(
        select(SubmissionRow.id, SubmissionRow.relpath).where(SubmissionRow.current.is_(True))
    ).all()
    ordered = [submission_id for submission_id, _ in in_relpath_order(rows)]
    for batch in chunks(ordered, BATCH):
        for record in export_records(session, batch):
            yield jsonl_line(record)


# Characters ``str.splitlines`` (and other readers of "lines") break at that JSON leaves as they
# are: written as escapes, a record stays on one line for every reader. JSON escapes the rest.
_LINE_BREAKS_JSON_KEEPS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def jsonl_line(record: dict[str, Any]) -> str:
    """``record`` as one line of JSON, UTF-8 text kept readable."""
    return json.dumps(record, ensure_ascii=False).translate(_LINE_BREAKS_JSON_KEEPS)


def export_records(session: Session, submission_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The records of ``submission_ids``, in that order."""
    columns = (
        SubmissionRow.id,
        SubmissionRow.relpath,
        SubmissionRow.status,
        SubmissionRow.reason,
        SubmissionRow.encoding,
        SubmissionRow.authority,
        SubmissionRow.year,
        SubmissionRow.version,
        SubmissionRow.cleaned_text,
    )
    rows = {r.id: r for r in session.execute(select(*columns).where(SubmissionRow.id.in_(submission_ids)))}
    archived = [i for i in submission_ids if rows[i].status == "archived"]
    removed = _removed(session, archived)
    copied = copied_of_many(session, archived)
    pairs = {i: list(pairs_of(session, i)) for i in archived}
    ids = sorted(
        {p.passage_id for ps in pairs.values() for p in ps}
        | {p.other_id for ps in pairs.values() for p in ps}
    )
    info: dict[int, tuple[str, str]] = {}
    for part in chunks(ids):
        found = session.execute(
            select(PassageRow.id, PassageRow.text, SubmissionRow.relpath)
            .join(SubmissionRow, SubmissionRow.id == PassageRow.submission_id)
            .where(PassageRow.id.in_(part))
        )
        info.update({id_: (text, relpath) for id_, text, relpath in found})
    where = _where(session, {c.other_submission_id for cs in copied.values() for c in cs})
    out: list[dict[str, Any]] = []
    for submission_id in submission_ids:
        row = rows[submission_id]
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
        if row.status == "archived":
            record["removed"] = removed[submission_id]
            record["matches"] = _matches(pairs[submission_id], info)
            record["reused"] = _reused(row.year, row.authority, copied[submission_id], where)
        out.append(record)
    return out


def _removed(session: Session, submission_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Per submission, its passages removed as repeats, each with the passage it repeats."""
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    repeated = aliased(PassageRow)
    for part in chunks(submission_ids):
        for submission_id, text, other_text, score in session.execute(
            select(
                PassageRow.submission_id,
                PassageRow.text,
                repeated.text,
                MatchRow.similarity,
            )
            .join(MatchRow, MatchRow.passage_id == PassageRow.id)
            .join(repeated, repeated.id == MatchRow.other_id)
            .where(PassageRow.submission_id.in_(part), PassageRow.removed.is_(True))
            .order_by(PassageRow.submission_id, PassageRow.idx)
        ):
            out[submission_id].append({"text": text, "repeats": other_text, "similarity": score})
    return out


def _where(session: Session, submission_ids: set[int]) -> dict[int, tuple[str, int | None, str | None]]:
    """relpath, year and authority of each of ``submission_ids``."""
    where: dict[int, tuple[str, int | None, str | None]] = {}
    for part in chunks(sorted(submission_ids)):
        for id_, relpath, year, authority in session.execute(
            select(
                SubmissionRow.id,
                SubmissionRow.relpath,
                SubmissionRow.year,
                SubmissionRow.authority,
            ).where(SubmissionRow.id.in_(part))
        ):
            where[id_] = (relpath, year, authority)
    return where


def _reused(
    year: int | None,
    authority: str | None,
    copied: list[Copied],
    where: dict[int, tuple[str, int | None, str | None]],
) -> list[dict[str, Any]]:
    """The character ranges of the cleaned text copied from an eligible submission, each with
    the file it is shared with (the kit's ``reused`` field)."""
    spans = sorted(
        {
            (c.start, c.end, where[c.other_submission_id][0])
            for c in copied
            if copy_kind(year, authority, *where[c.other_submission_id][1:], c)
        }
    )
    return [{"start": a, "end": b, "other_file": f} for a, b, f in spans]


def _matches(pairs: list[Pair], info: dict[int, tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {
            "text": info[p.passage_id][0],
            "other_file": info[p.other_id][1],
            "other_text": info[p.other_id][0],
            "similarity": p.similarity,
        }
        for p in pairs
    ]
