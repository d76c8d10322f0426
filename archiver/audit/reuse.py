"""Reuse across years and authorities, from the archive alone (nothing is re-processed).

``load(session)`` reads a snapshot of the current archived submissions; ``audit(session, snapshot,
match_at, filters)`` measures every document and builds the clusters; ``as_json`` / ``write_csv``
render the result (``audit_html.write_site`` renders it as a static site).

Measures of one document (its current archived submission), all by characters, with
``chars`` = characters of the cleaned text without newlines. Reused characters are those inside
the spans aligned with another current submission (``spans.copied_of``: copied sentences,
embedded and edited paragraphs, identical passages), each character once however many sources
it has (the union of the spans); a resubmission (``formula.resubmissions``) is no source:

reused_share            characters shared with a submission of an earlier year, or of another
                        authority in the same year; ÷ chars
from_earlier_years      the part of it shared with the same authority's earlier years
from_other_authorities  the rest: shared only with other authorities (same or earlier year); so
                        reused_share = from_earlier_years + from_other_authorities
formula_share           characters shared with a source but in passages the formula rules set
                        apart (``formula.formula_reason``): not reuse
new_share               1 − reused_share − formula_share: the cleaned text found in no earlier
                        year and in no other authority's report of the same year
repeated_inside         chars that repeat an earlier passage of the same submission — repeats
                        removed by cleaning plus near-repeats kept with a warning — ÷ (chars +
                        removed chars): the share of the *submitted* text that repeated itself.
                        Its base is not ``chars``, and it overlaps new_share for kept near-repeats.
sources                 per source submission: the characters of this document shared with it,
                        the characters of the source shared with this document (the two
                        directions differ: a sentence copied twice, a paragraph cut down), and
                        the longest run of equal characters
most_reused_from        the source sharing the most characters

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

from archiver.audit._places import Flagger, ForeignName
from archiver.audit._snapshot import Doc, Para, Snapshot, load
from archiver.audit.formula import Groups, Reason, Rules, formula_reason, resubmissions
from archiver.config import AuditConfig
from archiver.index.pairs import pairs_of
from archiver.index.spans import BATCH, Copied, copied_of_many

Kind = Literal["earlier", "other", "inside"]
SCHEMA = "archiver-audit/3"


@dataclass(frozen=True)
class Link:
    """One passage of a document matching an earlier (or other-authority) one."""

    passage_id: int
    other_id: int
    other_submission_id: int
    similarity: float
    kind: Kind


@dataclass(frozen=True)
class Source:
    """What a document shares with one source submission, in characters."""

    submission_id: int
    kind: Kind  # "earlier" or "other"
    chars: int  # of the document, in spans shared with the source
    other_chars: int  # of the source, in spans shared with the document
    longest: int  # the longest run of equal (normalised) characters


@dataclass(frozen=True)
class Reused:
    """A span of the document shared with a source (offsets in its cleaned text)."""

    copied: Copied
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
    spans: tuple[Reused, ...] = ()  # every span shared with a source that counts (formula left out)
    sources: tuple[Source, ...] = ()  # most characters first
    # Every span shared with any current submission (any year, resubmissions too) outside
    # formula, and every passage set apart as formula: what ``docpairs`` pairs documents by.
    shared: tuple[Copied, ...] = ()
    set_apart: frozenset[int] = frozenset()

    @property
    def reused_chars(self) -> int:
        return self.earlier_chars + self.other_chars

    def share(self, part: int) -> float:
        return part / self.chars if self.chars else 0.0

    @property
    def reused_passages(self) -> tuple[int, ...]:
        """Ids of the kept passages holding characters counted in ``reused_share``."""
        return tuple(sorted({r.copied.passage_id for r in self.spans}))

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
    if other.id == doc.id:
        return None
    return source_kind(doc.year, doc.authority, other.year, other.authority)


def source_kind(
    year: int | None, authority: str | None, other_year: int | None, other_authority: str | None
) -> Kind | None:
    """How a submission of (``other_year``, ``other_authority``) counts for a document of
    (``year``, ``authority``): ``reuse_kind`` on the fields alone."""
    if year is None or other_year is None:
        return None
    if other_authority == authority:
        return "earlier" if other_year < year else None
    return "other" if other_year <= year else None


def copy_kind(
    year: int | None,
    authority: str | None,
    other_year: int | None,
    other_authority: str | None,
    copied: Copied,
) -> Kind | None:
    """``source_kind`` for one shared region: two authorities' reports of one year give no
    order, so a region shared within a year counts only on the side that took it, as its shape
    tells (``Copied.taken_from_here``); a paragraph shared whole counts on both."""
    kind = source_kind(year, authority, other_year, other_authority)
    if kind == "other" and year == other_year and copied.taken_from_here():
        return None
    return kind


def text_chars(text: str, spans: Iterable[tuple[int, int]]) -> int:
    """Characters of ``text`` (newlines not counted) inside the union of ``spans``."""
    total, reach = 0, 0
    for start, end in sorted(spans):
        start = max(start, reach)
        if end > start:
            total += end - start - text.count("\n", start, end)
            reach = end
    return total


def measure(
    doc: Doc,
    snapshot: Snapshot,
    links: Iterable[Link],
    copied: Iterable[Copied] = (),
    formula: dict[int, Reason] | None = None,
    resubmitted: Collection[int] = (),
) -> DocumentReuse:
    """The reuse measures of ``doc`` given its qualifying links (``document_links``) and the
    spans it shares with other submissions (``spans.copied_of``); spans in passages of
    ``formula`` count as formula, not as reuse; a submission in ``resubmitted`` is no source."""
    formula = formula or {}
    links = tuple(links)
    paras = [snapshot.paras[i] for i in snapshot.by_doc.get(doc.id, ())]
    spans: list[Reused] = []
    set_apart: list[tuple[int, int]] = []
    formulaic: set[int] = set()
    for c in copied:
        other = snapshot.docs.get(c.other_submission_id)
        if other is None or other.id == doc.id or c.other_submission_id in resubmitted:
            continue
        kind = copy_kind(doc.year, doc.authority, other.year, other.authority, c)
        if kind is None:
            continue
        if c.passage_id in formula:
            set_apart.append((c.start, c.end))
            formulaic.add(c.passage_id)
        else:
            spans.append(Reused(c, kind))
    reused = text_chars(doc.text, [(r.copied.start, r.copied.end) for r in spans])
    earlier = text_chars(doc.text, [(r.copied.start, r.copied.end) for r in spans if r.kind == "earlier"])
    sources = _sources(doc, spans, snapshot)
    inside = {link.passage_id for link in links if link.kind == "inside"}
    return DocumentReuse(
        doc=doc,
        chars=len(doc.text.replace("\n", "")),
        earlier_chars=earlier,
        other_chars=reused - earlier,
        inside_chars=sum(len(p.text) for p in paras if p.id in inside),
        removed_chars=sum(len(p.text) for p in paras if p.removed),
        links=links,
        most_from=sources[0].submission_id if sources else None,
        most_from_chars=sources[0].chars if sources else 0,
        formula_chars=text_chars(doc.text, set_apart),
        formula=tuple(sorted((p, formula[p]) for p in formulaic)),
        spans=tuple(spans),
        sources=tuple(sources),
    )


def _sources(doc: Doc, spans: Sequence[Reused], snapshot: Snapshot) -> list[Source]:
    """Per source submission, the characters shared in both directions; most first."""
    by: dict[int, list[Reused]] = defaultdict(list)
    for r in spans:
        by[r.copied.other_submission_id].append(r)
    out = [
        Source(
            sub,
            shared[0].kind,
            text_chars(doc.text, [(r.copied.start, r.copied.end) for r in shared]),
            text_chars(snapshot.docs[sub].text, [(r.copied.other_start, r.copied.other_end) for r in shared]),
            max(r.copied.longest for r in shared),
        )
        for sub, shared in by.items()
    ]
    return sorted(
        out,
        key=lambda s: (
            -s.chars,
            snapshot.docs[s.submission_id].year or 0,
            snapshot.docs[s.submission_id].file,
        ),
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
    docs = list(snapshot.docs.values())
    copied_by: dict[int, list[Copied]] = {}
    for i, d in enumerate(docs):
        if d.id not in copied_by:  # the next batch's spans, read together (``copied_of_many``)
            copied_by = copied_of_many(session, [e.id for e in docs[i : i + BATCH]])
        links = document_links(session, snapshot, d, resubmitted)
        copied = copied_by[d.id]
        matched = {link.passage_id for link in links if link.kind != "inside"} | {
            c.passage_id for c in copied
        }
        reasons = {p: formula_reason(snapshot.paras[p], rules, groups) for p in matched}
        formula = {p: reason for p, reason in reasons.items() if reason is not None}
        measured.append(
            dataclasses.replace(
                measure(d, snapshot, links, copied, formula, resubmitted),
                resubmission_of=resubmitted.get(d.id),
                foreign_names=tuple(flagger.flag(d.id, _copied(links, formula))),
                shared=tuple(c for c in copied if c.passage_id not in formula),
                set_apart=frozenset(formula),
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


def document_json(m: DocumentReuse, docs: dict[int, Doc], sources: bool = True) -> dict[str, Any]:
    source = docs[m.most_from] if m.most_from is not None else None
    listed = {"sources": [source_json(s, docs) for s in m.sources]} if sources else {}
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
        **listed,
    }


def source_json(s: Source, docs: dict[int, Doc]) -> dict[str, Any]:
    other = docs[s.submission_id]
    return {
        "file": other.file,
        "authority": other.authority,
        "year": other.year,
        "kind": "earlier_year" if s.kind == "earlier" else "other_authority",
        "chars": s.chars,
        "other_chars": s.other_chars,
        "longest_run": s.longest,
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
        row = document_json(m, report.snapshot.docs, sources=False)
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
    "Reused",
    "Snapshot",
    "Source",
    "as_json",
    "audit",
    "authority_trends",
    "clusters",
    "copy_kind",
    "document_links",
    "keywords",
    "load",
    "measure",
    "reuse_kind",
    "shares",
    "source_kind",
    "write_csv",
]
