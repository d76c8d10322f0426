"""A snapshot of the archive for the audit: current archived submissions, their passages (kept
and removed) with section headings, kept near-repeats, and the cross links between groups.

``load(session) -> Snapshot`` reads it in a handful of queries (ids in chunks); everything the
audit measures afterwards is computed from it plus ``pairs.pairs_of``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.store.bulk import chunks
from archiver.store.db import MatchRow, PassageRow, SectionRow, in_relpath_order
from archiver.store.db import Submission as SubmissionRow


@dataclass(frozen=True)
class Doc:
    """A current archived submission."""

    id: int
    file: str  # relpath, as ``archiver export`` prints it
    authority: str | None
    year: int | None
    title: str
    text: str  # the archived cleaned text
    arrival: int = 0  # its document's id: documents are numbered as they first arrive


@dataclass(frozen=True)
class Para:
    """A passage of the archive (kept or removed) as the audit needs it."""

    id: int
    submission_id: int
    kind: str
    start: int | None
    end: int | None
    text: str
    removed: bool
    rep_id: int | None
    canonical_id: int | None
    heading: str  # the heading of its deepest section ("" in the preamble)


@dataclass(frozen=True)
class Snapshot:
    docs: dict[int, Doc]
    paras: dict[int, Para]  # every passage of ``docs``, plus canonical passages of old versions
    by_doc: dict[int, tuple[int, ...]]  # submission id → its passage ids in text order
    inside: dict[int, tuple[tuple[int, float], ...]]  # kept near-repeat → (earlier copy, similarity)
    links: dict[tuple[int, int], float]  # (rep, rep) cross links, both orders


def load(session: Session) -> Snapshot:
    """The current archived submissions with their passages, near-repeats and cross links."""
    rows = session.execute(
        select(
            SubmissionRow.id,
            SubmissionRow.relpath,
            SubmissionRow.authority,
            SubmissionRow.year,
            SubmissionRow.title,
            SubmissionRow.cleaned_text,
            SubmissionRow.document_id,
        ).where(SubmissionRow.current.is_(True), SubmissionRow.status == "archived")
    ).all()
    docs = {r[0]: Doc(r[0], r[1], r[2], r[3], r[4] or "", r[5] or "", r[6]) for r in in_relpath_order(rows)}
    paras: dict[int, Para] = {}
    for part in chunks(list(docs)):
        paras |= _paras(session, select(PassageRow).where(PassageRow.submission_id.in_(part)))
    missing = sorted({p.canonical_id for p in paras.values() if p.canonical_id} - set(paras))
    for part in chunks(missing):
        paras |= _paras(session, select(PassageRow).where(PassageRow.id.in_(part)))
    by_doc: dict[int, list[Para]] = defaultdict(list)
    for para in paras.values():
        if para.submission_id in docs:
            by_doc[para.submission_id].append(para)
    inside: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for later, earlier, score in session.execute(
        select(MatchRow.passage_id, MatchRow.other_id, MatchRow.similarity)
        .where(MatchRow.kind == "intra", MatchRow.action == "warned")
        .order_by(MatchRow.id)
    ):
        if later in paras and not paras[later].removed:
            inside[later].append((earlier, score))
    links: dict[tuple[int, int], float] = {}
    for a, b, score in session.execute(
        select(MatchRow.passage_id, MatchRow.other_id, MatchRow.similarity).where(MatchRow.kind == "cross")
    ):
        links[a, b] = links[b, a] = score
    return Snapshot(
        docs,
        paras,
        {d: tuple(p.id for p in sorted(ps, key=lambda p: p.id)) for d, ps in by_doc.items()},
        {k: tuple(v) for k, v in inside.items()},
        links,
    )


def _paras(session: Session, query: Any) -> dict[int, Para]:
    rows = session.scalars(query).all()
    heads = _headings(session, sorted({r.submission_id for r in rows}))
    return {
        r.id: Para(
            r.id,
            r.submission_id,
            r.kind,
            r.start,
            r.end,
            r.text,
            r.removed,
            r.rep_id,
            r.canonical_id,
            heads.get((r.submission_id, r.section_idx), ""),
        )
        for r in rows
    }


def _headings(session: Session, submission_ids: Sequence[int]) -> dict[tuple[int, int], str]:
    out: dict[tuple[int, int], str] = {}
    for part in chunks(submission_ids):
        rows = session.execute(
            select(SectionRow.submission_id, SectionRow.idx, SectionRow.heading).where(
                SectionRow.submission_id.in_(part)
            )
        )
        out.update({(sub, idx): heading for sub, idx, heading in rows})
    return out


__all__ = ["Doc", "Para", "Snapshot", "load"]
