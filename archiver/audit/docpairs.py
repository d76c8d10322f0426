"""Pairs of documents that share substantive text: ``archiver audit --pairs``.

For every two current documents with a kept passage of one matching a kept passage of the other
(the same group, or linked groups: verified Jaccard ≥ ``match_at``), not formula (``formula``),
both directions are measured: the characters of A in passages matching B's, and of B in
passages matching A's, each over its document's characters; the longest run is the most
characters of consecutive matching passages on either side. Passage-level: a matching passage
counts whole.

Relation: ``earlier_year`` (same authority, other years), ``same_year_other_authority``,
``other_authority_other_year``, ``same_authority_same_year`` (``resubmission`` when one files
the other again), ``unknown_year``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, TextIO

from archiver.audit._snapshot import Doc, Para, Snapshot
from archiver.audit.formula import Groups, formula_reason
from archiver.audit.reuse import Filters, Report

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
    passages: tuple[tuple[int, int], ...]  # (a passage, b passage) that match

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


def _kept(snapshot: Snapshot, doc: Doc) -> list[Para]:
    paras = (snapshot.paras[i] for i in snapshot.by_doc.get(doc.id, ()))
    return sorted((p for p in paras if not p.removed and p.start is not None), key=lambda p: p.start or 0)


def document_pairs(report: Report) -> list[DocPair]:
    """Every pair of current documents sharing substantive passages, most shared first."""
    snapshot = report.snapshot
    groups = Groups(snapshot)
    members: dict[int, list[Para]] = defaultdict(list)  # rep → its current kept passages
    for doc in snapshot.docs.values():
        for para in _kept(snapshot, doc):
            if para.rep_id is not None:
                members[para.rep_id].append(para)
    matches: dict[tuple[int, int], set[tuple[int, int]]] = defaultdict(set)
    for rep, paras in members.items():
        if formula_reason(paras[0], report.rules, groups) is not None:
            continue
        others = [q for r in {rep, *groups.linked.get(rep, ())} for q in members.get(r, ())]
        for p in paras:
            for q in others:
                if p.submission_id < q.submission_id:
                    matches[p.submission_id, q.submission_id].add((p.id, q.id))
    resubmitted = {m.doc.id: m.resubmission_of for m in report.measured.values() if m.resubmission_of}
    out = []
    for (x, y), pairs in matches.items():
        a, b = sorted((snapshot.docs[x], snapshot.docs[y]), key=_order)
        if a.id != x:
            pairs = {(q, p) for p, q in pairs}
        out.append(_measure(snapshot, a, b, pairs, relation(a, b, resubmitted)))
    return sorted(out, key=lambda p: (-max(p.a_share, p.b_share), p.a.file, p.b.file))


def _measure(snapshot: Snapshot, a: Doc, b: Doc, pairs: set[tuple[int, int]], rel: str) -> DocPair:
    in_a = {p for p, _ in pairs}
    in_b = {q for _, q in pairs}
    return DocPair(
        a,
        b,
        rel,
        sum(len(snapshot.paras[p].text) for p in in_a),
        sum(len(snapshot.paras[q].text) for q in in_b),
        len(a.text.replace("\n", "")),
        len(b.text.replace("\n", "")),
        max(_longest_run(_kept(snapshot, a), in_a), _longest_run(_kept(snapshot, b), in_b)),
        tuple(sorted(pairs)),
    )


def _longest_run(paras: list[Para], matched: set[int]) -> int:
    """The most characters of consecutive passages (in text order) all in ``matched``."""
    best = run = 0
    for para in paras:
        run = run + len(para.text) if para.id in matched else 0
        best = max(best, run)
    return best


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
