"""Reuse across years and authorities, from the archive alone (nothing is re-processed).

``load(session)`` reads a snapshot of the current archived submissions; ``audit(session, snapshot,
match_at, filters)`` measures every document and builds the clusters; ``as_json`` / ``write_csv``
render the result (``audit_html.write_site`` renders it as a static site).

Measures of one document (its current archived submission), all by characters, with
``chars`` = characters of the cleaned text without newlines and a passage counting
``len(passage.text)`` characters, each passage once however many others it matches:

reused_share            chars of kept passages that match (any pair of ``pairs.pairs_of``, so a
                        verified similarity ≥ ``match_at``) a passage of another submission from
                        an earlier year, or of another authority in the same year; ÷ chars
from_earlier_years      the part of it matched in the same authority's earlier years
from_other_authorities  the rest: matched only in other authorities (same or earlier year); so
                        reused_share = from_earlier_years + from_other_authorities
new_share               1 − reused_share: the cleaned text found in no earlier year and in no
                        other authority's report of the same year
repeated_inside         chars that repeat an earlier passage of the same submission — repeats
                        removed by cleaning plus near-repeats kept with a warning — ÷ (chars +
                        removed chars): the share of the *submitted* text that repeated itself.
                        Its base is not ``chars``, and it overlaps new_share for kept near-repeats.
most_reused_from        the submission that holds matches for the most of these characters

A cluster is the star of ``passages.canonical_id``: its canonical passage (the earliest) and every
current kept passage whose canonical it is; only clusters seen in ≥ 2 submissions are reported.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

from sqlalchemy.orm import Session

from archiver.audit.formula import Groups, Reason, Rules, formula_reason, resubmissions
from archiver.audit.places import Flagger, ForeignName
from archiver.audit.snapshot import Doc, Para, Snapshot, load
from archiver.config import AuditConfig
from archiver.index.pairs import pairs_of

Kind = Literal["earlier", "other", "inside"]
SCHEMA = "archiver-audit/2"


@dataclass(frozen=True)
class Link:
    """One passage of a document matching an earlier (or other-authority) one."""

    passage_id: int
    other_id: int
    other_submission_id: int
    similarity: float
    kind: Kind


@dataclass(frozen=True)
class DocumentReuse:
    doc: Doc
    chars: int
    earlier_chars: int
    other_chars: int
    inside_chars: int  # kept near-repeats of the submission itself
    removed_chars: int  # repeats removed from the submitted text
    links: tuple[Link, ...]  # every qualifying pair, kind "inside" included
    most_from: int | None  # submission id
    most_from_chars: int
    formula_chars: int = 0  # matched characters set apart as formula (not in reused_chars)
    formula: tuple[tuple[int, Reason], ...] = ()  # (passage id, why) of its formula passages
    resubmission_of: int | None = None  # submission id of the earlier arrival it files again
    foreign_names: tuple[ForeignName, ...] = ()  # another authority's names in text copied from it

    @property
    def reused_chars(self) -> int:
        return self.earlier_chars + self.other_chars

    def share(self, part: int) -> float:
        return part / self.chars if self.chars else 0.0

    @property
    def reused_passages(self) -> tuple[int, ...]:
        """Ids of the kept passages counted in ``reused_share`` (the report's highlights)."""
        formula = {p for p, _ in self.formula}
        return tuple(sorted({k.passage_id for k in self.links if k.kind != "inside"} - formula))

    @property
    def repeated_inside(self) -> float:
        base = self.chars + self.removed_chars
        return (self.inside_chars + self.removed_chars) / base if base else 0.0


@dataclass(frozen=True)
class Occurrence:
    passage_id: int
    submission_id: int
    file: str
    authority: str | None
    year: int | None
    heading: str
    similarity: float | None  # to the canonical passage (None: no recorded link)


@dataclass(frozen=True)
class Cluster:
    canonical: Para
    canonical_doc: Doc | None  # None when it belongs to a superseded version
    occurrences: tuple[Occurrence, ...]
    keywords: tuple[str, ...]

    @property
    def years(self) -> list[int]:
        return sorted({o.year for o in self.occurrences if o.year is not None})

    @property
    def authorities(self) -> int:
        return len({o.authority for o in self.occurrences})


@dataclass(frozen=True)
class Filters:
    authority: str | None = None
    year: int | None = None
    since: int | None = None
    min_share: float | None = None

    def keeps(self, measured: DocumentReuse) -> bool:
        doc = measured.doc
        return (
            (self.authority is None or doc.authority == self.authority)
            and (self.year is None or doc.year == self.year)
            and (self.since is None or (doc.year is not None and doc.year >= self.since))
            and (self.min_share is None or measured.share(measured.reused_chars) >= self.min_share)
        )


DEFAULT_RULES = Rules(AuditConfig.formula_authorities, AuditConfig.formula_max_chars)


@dataclass(frozen=True)
class Report:
    match_at: float
    filters: Filters
    documents: tuple[DocumentReuse, ...]
    clusters: tuple[Cluster, ...]
    snapshot: Snapshot = field(repr=False)
    measured: dict[int, DocumentReuse] = field(repr=False, default_factory=dict)  # every document, by id
    rules: Rules = field(repr=False, default=DEFAULT_RULES)  # the formula rules it was measured with


# ---------------------------------------------------------------- measures


def reuse_kind(doc: Doc, other: Doc) -> Kind | None:
    """How ``other`` counts for ``doc``: its authority's earlier year, another authority's same or
    earlier year, or not at all (later years, the same authority's same year, unknown years)."""
    if doc.year is None or other.year is None or other.id == doc.id:
        return None
    if other.authority == doc.authority:
        return "earlier" if other.year < doc.year else None
    return "other" if other.year <= doc.year else None


def measure(
    doc: Doc, snapshot: Snapshot, links: Iterable[Link], formula: dict[int, Reason] | None = None
) -> DocumentReuse:
    """The reuse measures of ``doc`` given its qualifying links (``document_links``); passages in
    ``formula`` count as formula, not as reuse."""
    formula = formula or {}
    links = tuple(links)
    paras = [snapshot.paras[i] for i in snapshot.by_doc.get(doc.id, ())]
    kinds: dict[int, set[str]] = defaultdict(set)
    sources: dict[int, set[int]] = defaultdict(set)
    for link in links:
        if link.kind != "inside" and link.passage_id in formula:
            kinds[link.passage_id].add("formula")
            continue
        kinds[link.passage_id].add(link.kind)
        if link.kind != "inside":
            sources[link.passage_id].add(link.other_submission_id)
    size = {p.id: len(p.text) for p in paras}
    earlier = sum(size[p] for p, ks in kinds.items() if "earlier" in ks)
    other = sum(size[p] for p, ks in kinds.items() if "other" in ks and "earlier" not in ks)
    per_source: dict[int, int] = defaultdict(int)
    for passage, subs in sources.items():
        for sub in subs:
            per_source[sub] += size[passage]
    most = min(
        per_source,
        key=lambda s: (-per_source[s], snapshot.docs[s].year or 0, snapshot.docs[s].file),
        default=None,
    )
    return DocumentReuse(
        doc=doc,
        chars=len(doc.text.replace("\n", "")),
        earlier_chars=earlier,
        other_chars=other,
        inside_chars=sum(size[p] for p, ks in kinds.items() if "inside" in ks),
        removed_chars=sum(len(p.text) for p in paras if p.removed),
        links=links,
        most_from=most,
        most_from_chars=per_source[most] if most is not None else 0,
        formula_chars=sum(size[p] for p, ks in kinds.items() if "formula" in ks),
        formula=tuple(sorted((p, formula[p]) for p, ks in kinds.items() if "formula" in ks)),
    )


def document_links(
    session: Session, snapshot: Snapshot, doc: Doc, resubmitted: Collection[int] = ()
) -> list[Link]:
    """Every pair of ``doc`` that counts: cross pairs by ``reuse_kind`` and kept near-repeats.
    A resubmission (in ``resubmitted``) is no source: the earlier arrival holds its text."""
    out: list[Link] = []
    for pair in pairs_of(session, doc.id, earlier_only=False):
        other = snapshot.paras.get(pair.other_id)
        if other is not None and other.submission_id in resubmitted:
            continue
        kind = reuse_kind(doc, snapshot.docs[other.submission_id]) if other else None
        if other and kind:
            out.append(Link(pair.passage_id, pair.other_id, other.submission_id, pair.similarity, kind))
    for passage in snapshot.by_doc.get(doc.id, ()):
        for earlier, score in snapshot.inside.get(passage, ()):
            out.append(Link(passage, earlier, doc.id, score, "inside"))
    return out


def clusters(snapshot: Snapshot, keep: set[int] | None = None) -> list[Cluster]:
    """The stars with occurrences in ≥ 2 submissions (and in ``keep`` when given), widest first."""
    members: dict[int, list[Para]] = defaultdict(list)
    for para in snapshot.paras.values():
        if para.canonical_id is not None and para.submission_id in snapshot.docs and not para.removed:
            members[para.canonical_id].append(para)
    out: list[Cluster] = []
    for canonical_id, group in members.items():
        canonical = snapshot.paras[canonical_id]
        if canonical.submission_id in snapshot.docs and canonical not in group:
            group.append(canonical)
        subs = {p.submission_id for p in group}
        if len(group) < 2 or len(subs) < 2 or (keep is not None and not subs & keep):
            continue
        ordered = sorted(group, key=lambda p: _when(snapshot, p))
        occurrences = tuple(_occurrence(snapshot, canonical, p) for p in ordered)
        home = snapshot.docs.get(canonical.submission_id)
        out.append(Cluster(canonical, home, occurrences, keywords(canonical.text)))
    return sorted(out, key=lambda c: (-c.authorities, -len(c.occurrences), c.years[:1], c.canonical.id))


def _when(snapshot: Snapshot, para: Para) -> tuple[int, str, int]:
    doc = snapshot.docs[para.submission_id]
    return (doc.year if doc.year is not None else 9999, doc.file, para.id)


def _occurrence(snapshot: Snapshot, canonical: Para, para: Para) -> Occurrence:
    doc = snapshot.docs[para.submission_id]
    if para.rep_id == canonical.rep_id:
        similarity: float | None = 1.0
    else:
        similarity = snapshot.links.get((para.rep_id or 0, canonical.rep_id or 0))
    return Occurrence(para.id, doc.id, doc.file, doc.authority, doc.year, para.heading, similarity)


def keywords(text: str, count: int = 5) -> tuple[str, ...]:
    """Up to ``count`` jieba TF-IDF keywords of ``text``, numbers and Latin words left out."""
    import jieba
    import jieba.analyse

    jieba.setLogLevel(logging.WARNING)  # the dictionary-loading chatter would reach stderr
    tags = jieba.analyse.extract_tags(text, topK=count * 3)
    return tuple(t for t in tags if any("\u4e00" <= ch <= "\u9fff" for ch in t))[:count]


def audit(
    session: Session,
    snapshot: Snapshot,
    match_at: float,
    filters: Filters = Filters(),
    rules: Rules = DEFAULT_RULES,
    resubmission_at: float = AuditConfig.resubmission_at,
) -> Report:
    """Measure every document of ``snapshot``; keep those ``filters`` select, and their clusters.

    Matched passages that ``rules`` call formula count as formula, not reuse; resubmissions
    (``formula.resubmissions``) are labelled and are no source of reuse."""
    resubmitted = resubmissions(snapshot, {d.id: d.arrival for d in snapshot.docs.values()}, resubmission_at)
    groups = Groups(snapshot)
    flagger = Flagger(snapshot, groups.linked)
    measured = []
    for d in snapshot.docs.values():
        links = document_links(session, snapshot, d, resubmitted)
        matched = {link.passage_id for link in links if link.kind != "inside"}
        reasons = {p: formula_reason(snapshot.paras[p], rules, groups) for p in matched}
        formula = {p: reason for p, reason in reasons.items() if reason is not None}
        measured.append(
            dataclasses.replace(
                measure(d, snapshot, links, formula),
                resubmission_of=resubmitted.get(d.id),
                foreign_names=tuple(flagger.flag(d.id, _copied(links, formula))),
            )
        )
    kept = sorted(
        (m for m in measured if filters.keeps(m)),
        key=lambda m: (m.doc.authority or "", m.doc.year or 0, m.doc.file),
    )
    found = clusters(snapshot, {m.doc.id for m in kept})
    return Report(
        match_at, filters, tuple(kept), tuple(found), snapshot, {m.doc.id: m for m in measured}, rules
    )


def _copied(links: Iterable[Link], formula: dict[int, Reason]) -> dict[int, tuple[int, int]]:
    """Passage → (source passage, its submission) of the substantive passages reused from another
    authority: the most similar source, then the earliest."""
    best: dict[int, Link] = {}
    for link in links:
        if link.kind == "other" and link.passage_id not in formula:
            held = best.get(link.passage_id)
            if held is None or (-link.similarity, link.other_id) < (-held.similarity, held.other_id):
                best[link.passage_id] = link
    return {p: (k.other_id, k.other_submission_id) for p, k in best.items()}


# ---------------------------------------------------------------- rendering: JSON and CSV


def _round(x: float) -> float:
    return round(x, 4)


def shares(
    chars: int, earlier: int, other: int, inside: int, removed: int, formula: int = 0
) -> dict[str, float]:
    """The share fields of the schema from character counts (see the module docstring)."""
    base = chars + removed
    reused = (earlier + other) / chars if chars else 0.0
    formulaic = formula / chars if chars else 0.0
    return {
        "reused_share": _round(reused),
        "from_earlier_years": _round(earlier / chars if chars else 0.0),
        "from_other_authorities": _round(other / chars if chars else 0.0),
        "formula_share": _round(formulaic),
        "repeated_inside": _round((inside + removed) / base if base else 0.0),
        "new_share": _round(1.0 - reused - formulaic),
    }


def _counts(items: Sequence[DocumentReuse]) -> dict[str, Any]:
    sums = [
        sum(getattr(m, f) for m in items)
        for f in ("chars", "earlier_chars", "other_chars", "inside_chars", "removed_chars", "formula_chars")
    ]
    return {"documents": len(items), "chars": sums[0], **shares(*sums)}


def document_json(m: DocumentReuse, docs: dict[int, Doc]) -> dict[str, Any]:
    source = docs[m.most_from] if m.most_from is not None else None
    return {
        "id": m.doc.id,
        "file": m.doc.file,
        "authority": m.doc.authority,
        "year": m.doc.year,
        "title": m.doc.title,
        "chars": m.chars,
        **shares(m.chars, m.earlier_chars, m.other_chars, m.inside_chars, m.removed_chars, m.formula_chars),
        "reused_chars": m.reused_chars,
        "formula_chars": m.formula_chars,
        "removed_chars": m.removed_chars,
        "reused_passages": len(m.reused_passages),
        "formula_passages": [{"id": p, "reason": reason} for p, reason in m.formula],
        "resubmission_of": None if m.resubmission_of is None else docs[m.resubmission_of].file,
        "foreign_names": [
            {
                "name": n.name,
                "tag": n.tag,
                "passage": n.passage_id,
                "source": docs[n.source_submission_id].file,
            }
            for n in m.foreign_names
        ],
        "most_reused_from": None
        if source is None
        else {
            "file": source.file,
            "authority": source.authority,
            "year": source.year,
            "chars": m.most_from_chars,
        },
    }


def authority_trends(documents: Sequence[DocumentReuse]) -> list[dict[str, Any]]:
    """Per authority: totals and the shares by year (character-weighted over its documents)."""
    by: dict[str | None, dict[int | None, list[DocumentReuse]]] = defaultdict(lambda: defaultdict(list))
    for m in documents:
        if m.resubmission_of is None:  # filed again, it would count its report twice
            by[m.doc.authority][m.doc.year].append(m)
    return [
        {
            "authority": authority,
            **_counts([m for ms in years.values() for m in ms]),
            "years": [{"year": y, **_counts(years[y])} for y in sorted(years, key=lambda y: y or 0)],
        }
        for authority, years in sorted(by.items(), key=lambda kv: kv[0] or "")
    ]


def cluster_json(c: Cluster) -> dict[str, Any]:
    years = c.years
    return {
        "id": c.canonical.id,
        "canonical": {
            "text": c.canonical.text,
            "file": c.canonical_doc.file if c.canonical_doc else None,
            "authority": c.canonical_doc.authority if c.canonical_doc else None,
            "year": c.canonical_doc.year if c.canonical_doc else None,
            "heading": c.canonical.heading,
        },
        "first_year": years[0] if years else None,
        "last_year": years[-1] if years else None,
        "authorities": c.authorities,
        "count": len(c.occurrences),
        "keywords": list(c.keywords),
        "occurrences": [
            {
                "file": o.file,
                "authority": o.authority,
                "year": o.year,
                "heading": o.heading,
                "similarity": o.similarity,
            }
            for o in c.occurrences
        ],
    }


def as_json(report: Report) -> dict[str, Any]:
    """The documented JSON form of ``report`` (``schema`` names its version)."""
    f = report.filters
    return {
        "schema": SCHEMA,
        "match_at": report.match_at,
        "filters": {"authority": f.authority, "year": f.year, "since": f.since, "min_share": f.min_share},
        "documents": [document_json(m, report.snapshot.docs) for m in report.documents],
        "authorities": authority_trends(report.documents),
        "clusters": [cluster_json(c) for c in report.clusters],
    }


CSV_COLUMNS = (
    "file",
    "authority",
    "year",
    "title",
    "chars",
    "reused_share",
    "from_earlier_years",
    "from_other_authorities",
    "formula_share",
    "repeated_inside",
    "new_share",
    "reused_chars",
    "formula_chars",
    "removed_chars",
    "reused_passages",
    "most_reused_from",
    "most_reused_from_chars",
    "resubmission_of",
    "foreign_names",
)


def write_csv(report: Report, out: TextIO) -> None:
    """The documents table; open ``out`` with encoding "utf-8-sig" (the BOM Excel needs)."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for m in report.documents:
        row = document_json(m, report.snapshot.docs)
        source = row.pop("most_reused_from") or {}
        row |= {"most_reused_from": source.get("file", ""), "most_reused_from_chars": source.get("chars", 0)}
        row["foreign_names"] = "、".join(dict.fromkeys(n["name"] for n in row["foreign_names"]))
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])


__all__ = [
    "Cluster",
    "Doc",
    "DocumentReuse",
    "Filters",
    "Link",
    "Occurrence",
    "Para",
    "Report",
    "Snapshot",
    "as_json",
    "audit",
    "authority_trends",
    "clusters",
    "document_links",
    "keywords",
    "load",
    "measure",
    "reuse_kind",
    "shares",
    "write_csv",
]
