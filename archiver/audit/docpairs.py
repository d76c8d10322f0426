"""Pairs of documents that share substantive text: ``archiver audit --pairs``.

For every two current documents sharing aligned character spans (``index.spans``: a copied
sentence, an edited or identical paragraph) outside formula passages (``formula``) on either
side, both directions are measured: the characters of A inside spans shared with B, and of B
inside spans shared with A, each over its document's characters (each character once), and the
longest run of equal characters in any of the spans. A copied sentence counts its characters,
not its paragraph's.

Relation: ``earlier_year`` (same authority, other years), ``same_year_other_authority``,
``other_authority_other_year``, ``same_authority_same_year`` (``resubmission`` when one files
the other again), ``unknown_year``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, TextIO

from archiver.audit._snapshot import Doc
from archiver.audit.reuse import Filters, Report, text_chars
from archiver.index.spans import Copied

SCHEMA = "archiver-pairs/1"


@dataclass(frozen=True)
class DocPair:
    a: Doc  # the earlier of the two (year, then arrival)
    b: Doc
    relation: str
    a_chars: int  # characters of a in passages matching b's
    b_chars: int
    a_total: int  # a's characters (newlines excluded)
    b_total: int
    longest_run: int
    passages: tuple[tuple[int, int], ...]  # (a passage, b passage) sharing characters
    spans: tuple[Copied, ...] = ()  # the shared spans, A's side first (``other_*``: B's side)

    @property
    def a_share(self) -> float:
        return self.a_chars / self.a_total if self.a_total else 0.0

    @property
    def b_share(self) -> float:
        return self.b_chars / self.b_total if self.b_total else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "a": self.a.file,
            "a_authority": self.a.authority,
            "a_year": self.a.year,
            "b": self.b.file,
            "b_authority": self.b.authority,
            "b_year": self.b.year,
            "relation": self.relation,
            "a_chars": self.a_chars,
            "a_share": round(self.a_share, 4),
            "b_chars": self.b_chars,
            "b_share": round(self.b_share, 4),
            "longest_run": self.longest_run,
            "passages": len(self.passages),
        }


def relation(a: Doc, b: Doc, resubmitted: dict[int, int]) -> str:
    if a.year is None or b.year is None:
        return "unknown_year"
    if a.authority == b.authority:
        if a.year != b.year:
            return "earlier_year"
        if resubmitted.get(b.id) == a.id or resubmitted.get(a.id) == b.id:
            return "resubmission"
        return "same_authority_same_year"
    return "same_year_other_authority" if a.year == b.year else "other_authority_other_year"


def _order(doc: Doc) -> tuple[int, int, str]:
    return (doc.year if doc.year is not None else 9999, doc.arrival, doc.file)


def _flip(c: Copied, submission_id: int) -> Copied:
    """``c`` seen from the other side (``submission_id``: the side ``c`` starts from)."""
    return Copied(
        c.other_start,
        c.other_end,
        c.other_id,
        c.passage_id,
        submission_id,
        c.start,
        c.end,
        c.matched,
        c.longest,
        c.other_share,
        c.share,
    )


def document_pairs(report: Report) -> list[DocPair]:
    """Every pair of current documents sharing substantive spans, most shared first."""
    snapshot = report.snapshot
    measured = report.measured
    set_apart = frozenset().union(*(m.set_apart for m in measured.values()))
    found: dict[tuple[int, int], set[Copied]] = defaultdict(set)  # (a, b) → spans from a to b
    for doc_id, m in measured.items():
        for c in m.shared:
            other = c.other_submission_id
            if other not in snapshot.docs or c.other_id in set_apart:
                continue
            a, b = sorted((snapshot.docs[doc_id], snapshot.docs[other]), key=_order)
            found[a.id, b.id].add(c if a.id == doc_id else _flip(c, doc_id))
    resubmitted = {m.doc.id: m.resubmission_of for m in measured.values() if m.resubmission_of}
    out = [
        _measure(
            snapshot.docs[a],
            snapshot.docs[b],
            spans,
            relation(snapshot.docs[a], snapshot.docs[b], resubmitted),
        )
        for (a, b), spans in found.items()
    ]
    return sorted(out, key=lambda p: (-max(p.a_share, p.b_share), p.a.file, p.b.file))


def _measure(a: Doc, b: Doc, spans: set[Copied], rel: str) -> DocPair:
    ordered = tuple(sorted(spans))
    return DocPair(
        a,
        b,
        rel,
        text_chars(a.text, [(c.start, c.end) for c in ordered]),
        text_chars(b.text, [(c.other_start, c.other_end) for c in ordered]),
        len(a.text.replace("\n", "")),
        len(b.text.replace("\n", "")),
        max(c.longest for c in ordered),
        tuple(sorted({(c.passage_id, c.other_id) for c in ordered})),
        ordered,
    )


def selected(pairs: list[DocPair], filters: Filters) -> list[DocPair]:
    """The pairs with at least one document the filters' authority/year/since select."""

    def keeps(doc: Doc) -> bool:
        return (
            (filters.authority is None or doc.authority == filters.authority)
            and (filters.year is None or doc.year == filters.year)
            and (filters.since is None or (doc.year is not None and doc.year >= filters.since))
        )

    return [p for p in pairs if keeps(p.a) or keeps(p.b)]


def as_json(pairs: list[DocPair], report: Report) -> dict[str, Any]:
    f = report.filters
    return {
        "schema": SCHEMA,
        "match_at": report.match_at,
        "filters": {"authority": f.authority, "year": f.year, "since": f.since},
        "pairs": [p.as_json() for p in pairs],
    }


CSV_COLUMNS = (
    "a",
    "a_authority",
    "a_year",
    "b",
    "b_authority",
    "b_year",
    "relation",
    "a_chars",
    "a_share",
    "b_chars",
    "b_share",
    "longest_run",
    "passages",
)


def write_csv(pairs: list[DocPair], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for pair in pairs:
        row = pair.as_json()
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])


__all__ = ["DocPair", "as_json", "document_pairs", "relation", "selected", "write_csv"]
