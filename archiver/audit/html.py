"""The audit as a static, self-contained site: ``write_site(report, DIR)``.

DIR/index.html      the documents table (sortable, filterable) and the reuse chart by year
DIR/search/texts.js the documents' cleaned texts, loaded by the index's search box when used
DIR/docs/<id>.html  one per document (submission id): its cleaned text, each span shared with a
                    source (or each linked passage, without spans) a highlight ``<a class="reuse"
                    data-kind="earlier|other|inside|formula">`` linking to the source passage
                    (``docs/<m>.html#p<passage id>``); the sources beside it, the first with its
                    character diff (``<ins>``: the document's new dates and figures)
DIR/clusters.html   the clusters with their keywords and occurrences
DIR/pairs.html      the pairs of documents sharing substantive text (``docpairs``), sortable
DIR/pairs/<a>-<b>.html  the two texts side by side, each shared span highlighted and linked to
                    its counterpart, and the character diff of the spans that differ (for the
                    ``MAX_PAIR_PAGES`` pairs sharing the most)

The pages are Jinja2 templates in ``templates/`` rendered with autoescaping on, so submitted text
(file names, authorities, titles, passages, headings) is escaped without anyone having to ask.
No network: CSS and JS are inlined, the chart is inline SVG.

Templates: ``base.html`` is the layout (head, inlined CSS/JS; a page fills ``block body`` and sets
``title``), ``macros.html`` the small shared pieces (share cell, document link, colour key),
``chart.svg`` the chart, and one template per page. To add a page: write ``templates/NAME.html``
extending ``base.html``, a function here that gathers plain values for it and calls
``render("NAME.html", ...)``, and add its file to ``write_site``; put only numbers and records in,
never pre-built HTML (``Markup``), so escaping stays automatic. Filters: ``pct`` (0.123 → 12.3%).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from archiver.audit._chart import chart
from archiver.audit._snapshot import Doc
from archiver.audit.docpairs import DocPair, document_pairs, selected
from archiver.audit.reuse import DocumentReuse, Link, Para, Report, Reused, authority_trends, text_chars

KIND_LABEL = {
    "earlier": "本单位往年 earlier year",
    "other": "其他单位 other authority",
    "inside": "本文重复 inside",
    "formula": "套话与规定格式 formula",
}
REASON_LABEL = {
    "authorities": "多个单位共有 in many authorities",
    "set_phrase": "固定短语 set phrase",
    "template": "规定格式 template",
}
KINDS = ("earlier", "other", "inside")  # a passage with several kinds of link shows the first
LEGEND = (*KINDS, "formula")
MAX_SOURCES = 6  # linked passages listed per highlight in the side panel
MAX_PAIR_PAGES = 300  # side-by-side pages written, for the pairs sharing the most
RELATION_LABEL = {
    "earlier_year": "本单位往年 earlier year",
    "same_year_other_authority": "同年其他单位 same year, other authority",
    "other_authority_other_year": "其他单位其他年度 other authority, other year",
    "same_authority_same_year": "本单位同年 same authority, same year",
    "resubmission": "重复报送 resubmission",
    "unknown_year": "年度不明 unknown year",
}

COLUMNS = (
    ("file", "文件 file", False),
    ("authority", "单位 authority", False),
    ("year", "年度 year", True),
    ("chars", "字数 chars", True),
    ("reused_share", "复用 reused", True),
    ("formula_share", "套话 formula", True),
    ("from_earlier_years", "往年 earlier years", True),
    ("from_other_authorities", "其他单位 other authorities", True),
    ("repeated_inside", "本文重复 inside", True),
    ("new_share", "新内容 new", True),
    ("most", "主要来源 most reused from", False),
)


def pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def _asset(name: str) -> Markup:
    """Our own CSS or JS, inlined as it is (never submitted text)."""
    return Markup((resources.files("archiver.audit") / "templates" / name).read_text(encoding="utf-8"))


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("archiver.audit", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a misspelt name fails the render, not prints nothing
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=lambda value: "" if value is None else value,  # an unknown year prints as nothing
    )
    env.filters["pct"] = pct
    env.globals.update(
        asset=_asset,
        kind_label=KIND_LABEL,
        kinds=LEGEND,
        reason_label=REASON_LABEL,
        relation_label=RELATION_LABEL,
    )
    return env


def render(template: str, **values: Any) -> str:
    return environment().get_template(template).render(**values)


@dataclass(frozen=True)
class Row:
    """One document's measures as the pages show them (shares of its characters)."""

    doc: Doc
    chars: int
    reused: float
    earlier: float
    other: float
    inside: float  # of the submitted text, removed repeats included
    new: float
    source: Doc | None  # the submission it reuses most from
    formula: float = 0.0
    resubmission_of: Doc | None = None  # the earlier arrival it files again


def _row(m: DocumentReuse, report: Report) -> Row:
    docs = report.snapshot.docs
    source = docs.get(m.most_from) if m.most_from is not None else None
    reused = m.share(m.reused_chars)
    formula = m.share(m.formula_chars)
    return Row(
        m.doc,
        m.chars,
        reused,
        m.share(m.earlier_chars),
        m.share(m.other_chars),
        m.repeated_inside,
        1.0 - reused - formula,
        source,
        formula,
        docs.get(m.resubmission_of) if m.resubmission_of is not None else None,
    )


def charted(trends: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The authorities worth a chart: two or more known years (one point is no trend)."""
    return [t for t in trends if len({r["year"] for r in t["years"] if r["year"] is not None}) >= 2]


def index_html(report: Report) -> str:
    f = report.filters
    given = (("authority", f.authority), ("year", f.year), ("since", f.since), ("min-share", f.min_share))
    return render(
        "index.html",
        report=report,
        columns=COLUMNS,
        rows=[_row(m, report) for m in report.documents],
        filters=", ".join(f"{k}={v}" for k, v in given if v is not None),
        chart=chart(charted(authority_trends(report.documents))),
        texts=TEXTS,
    )


TEXTS = "search/texts.js"  # the search box's texts, beside index.html


def texts_js(report: Report) -> str:
    """The cleaned texts of the selected documents as a script the index page loads when its
    search box is first used: the page stays small however large the archive, and a script
    element (unlike fetch) loads from file:// too. JSON is a JavaScript expression."""
    texts = {str(m.doc.id): m.doc.text for m in report.documents}
    return "window.archiverTexts = " + json.dumps(texts, ensure_ascii=False) + ";\n"


@dataclass(frozen=True)
class Segment:
    """A stretch of a passage: plain, or shared with a source (highlighted, leading to it)."""

    parts: tuple[tuple[str, bool], ...]  # its text cut at flagged names, as ``Piece.parts``
    kind: str = ""  # earlier | other; "" when plain
    doc: int = 0  # the source's submission id
    passage: int = 0  # the source passage's id
    title: str = ""


@dataclass(frozen=True)
class Change:
    """A stretch of the character diff from a source's text to the document's."""

    op: str  # equal | ins (new in the document: a changed date or figure) | del (only in the source)
    text: str


@dataclass(frozen=True)
class Shared:
    """A source of a passage's shared spans, in the side panel."""

    kind: str
    other: Para
    doc: Doc
    chars: int  # characters of the passage shared with it
    diff: tuple[tuple[Change, ...], ...] = ()  # per shared span, for the first source only


@dataclass(frozen=True)
class Piece:
    """A stretch of one line of the cleaned text: plain text, or a passage (highlighted when linked)."""

    text: str = ""
    para: Para | None = None
    kind: str = ""
    target: Link | None = None  # where the highlight leads
    parts: tuple[tuple[str, bool], ...] = ()  # the passage's text cut at flagged names (True)
    segments: tuple[Segment, ...] = ()  # the passage cut at its shared spans (when it has any)


def parts(text: str, spans: list[tuple[int, int]]) -> tuple[tuple[str, bool], ...]:
    """``text`` cut into (stretch, flagged) at the (start, end) ``spans`` (sorted, disjoint)."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for start, end in spans:
        if start < pos:
            continue
        out += [(text[pos:start], False), (text[start:end], True)]
        pos = end
    out.append((text[pos:], False))
    return tuple((stretch, flagged) for stretch, flagged in out if stretch)


@dataclass(frozen=True)
class Source:
    """The side panel's entry for a highlighted passage: the passages it matches, best first."""

    para: Para
    kind: str
    items: list[tuple[Link, Para, Doc]]  # the first MAX_SOURCES
    rest: list[tuple[Link, Para, Doc]]  # the others, behind an expandable list
    shared: list[Shared] = dataclasses.field(default_factory=list)  # sources of its spans


def _kind(links: list[Link]) -> str:
    kinds = {k.kind for k in links}
    return next(k for k in KINDS if k in kinds)


def _target(links: list[Link], report: Report) -> Link:
    """The earlier occurrence a highlight leads to: most similar, then earliest."""
    docs = report.snapshot.docs
    return min(links, key=lambda k: (-k.similarity, docs[k.other_submission_id].year or 0, k.other_id))


def _passage(para: Para, links: list[Link], report: Report, formula: dict[int, str]) -> Piece:
    if not links:
        return Piece(para=para)
    if para.id in formula:
        return Piece(
            para=para, kind="formula", target=_target([k for k in links if k.kind != "inside"], report)
        )
    kind = _kind(links)
    return Piece(para=para, kind=kind, target=_target([k for k in links if k.kind == kind], report))


PieceT = TypeVar("PieceT", "Piece", "PairPiece")


def _lines(
    doc: Doc, report: Report, plain: type[PieceT], passage: Callable[[Para], PieceT]
) -> list[list[PieceT]]:
    """``doc``'s cleaned text split at newlines: ``plain(text)`` for the stretches between
    passages, ``passage(para)`` for each passage."""
    snap = report.snapshot
    kept = sorted(
        (snap.paras[i] for i in snap.by_doc.get(doc.id, ()) if snap.paras[i].start is not None),
        key=lambda p: p.start or 0,
    )
    text, pos = doc.text, 0
    lines: list[list[PieceT]] = [[]]

    def between(stretch: str) -> None:
        first, *rest = stretch.split("\n")
        lines[-1].append(plain(first))
        lines.extend([plain(line)] for line in rest)

    for para in kept:
        between(text[pos : para.start or 0])
        lines[-1].append(passage(para))
        pos = para.end or 0
    between(text[pos:])
    return lines


def _source(para: Para, links: list[Link], report: Report, formula: dict[int, str]) -> Source:
    snap = report.snapshot
    kind = "formula" if para.id in formula else _kind(links)
    ordered = sorted(links, key=lambda k: (k.kind != kind, -k.similarity, k.other_id))
    items = [(k, snap.paras[k.other_id], snap.docs[k.other_submission_id]) for k in ordered]
    return Source(para, kind, items[:MAX_SOURCES], items[MAX_SOURCES:])


def _rank(r: Reused) -> tuple[int, int, int]:
    """Which span a highlight leads to, least first: the authority's earlier year before another
    authority, then the most equal characters, then the first archived."""
    return (KINDS.index(r.kind), -r.copied.matched, r.copied.other_id)


T = TypeVar("T")


def _runs(length: int, ranges: list[tuple[int, int, T]]) -> list[tuple[int, int, T | None]]:
    """``0…length`` cut where ``ranges`` (start, end, item) begin and end: (start, end, the item
    covering it or None); where ranges overlap, the later in ``ranges`` wins."""
    cover: list[T | None] = [None] * length
    for lo, hi, item in ranges:
        for at in range(max(lo, 0), min(hi, length)):
            cover[at] = item
    out: list[tuple[int, int, T | None]] = []
    k = 0
    while k < length:
        here, end = cover[k], k
        while end < length and cover[end] is here:
            end += 1
        out.append((k, end, here))
        k = end
    return out


def _segments(
    para: Para, text: str, spans: list[Reused], flagged: list[tuple[int, int]]
) -> tuple[Segment, ...]:
    """The passage cut where its shared spans begin and end (each character shown with its best
    span), and each stretch at the flagged names."""
    start = para.start or 0
    body = text[start : para.end or start]
    ranked = sorted(spans, key=_rank, reverse=True)  # the best span is written last
    out: list[Segment] = []
    for k, end, here in _runs(len(body), [(r.copied.start - start, r.copied.end - start, r) for r in ranked]):
        names = [(max(a, k) - k, min(b, end) - k) for a, b in flagged if a < end and b > k]
        cut = parts(body[k:end], names)
        if here is None:
            out.append(Segment(cut))
        else:
            c = here.copied
            title = f"{KIND_LABEL[here.kind]} · {c.matched} 字相同 equal · 最长 longest {c.longest}"
            out.append(Segment(cut, here.kind, c.other_submission_id, c.other_id, title))
    return tuple(out)


def diff(source: str, copy: str) -> tuple[Change, ...]:
    """What changed from ``source`` to ``copy``, character by character: ins marks what the copy
    has instead (the new dates and figures), del what it left out."""
    out: list[Change] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, source, copy, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(Change("equal", copy[j1:j2]))
            continue
        if i2 > i1:
            out.append(Change("del", source[i1:i2]))
        if j2 > j1:
            out.append(Change("ins", copy[j1:j2]))
    return tuple(out)


def _shared(m: DocumentReuse, spans: list[Reused], report: Report) -> list[Shared]:
    """The sources of a passage's spans, the authority's earlier years first, then most shared
    characters; the first with the character diff of each span from it."""
    snap = report.snapshot
    by_other: dict[int, list[Reused]] = {}
    for r in spans:
        by_other.setdefault(r.copied.other_id, []).append(r)

    def chars(rs: list[Reused]) -> int:
        return text_chars(m.doc.text, [(r.copied.start, r.copied.end) for r in rs])

    ranked = sorted(
        by_other.values(), key=lambda rs: (min(_rank(r) for r in rs)[0], -chars(rs), rs[0].copied.other_id)
    )
    out: list[Shared] = []
    for n, rs in enumerate(ranked):
        c = rs[0].copied
        other_doc = snap.docs[c.other_submission_id]
        changes: tuple[tuple[Change, ...], ...] = ()
        if n == 0:
            changes = tuple(
                diff(
                    other_doc.text[r.copied.other_start : r.copied.other_end],
                    m.doc.text[r.copied.start : r.copied.end],
                )
                for r in sorted(rs, key=lambda r: r.copied.start)
            )
        out.append(Shared(min(rs, key=_rank).kind, snap.paras[c.other_id], other_doc, chars(rs), changes))
    return out


def document_html(m: DocumentReuse, report: Report, review: str = "") -> str:
    snap = report.snapshot
    flagged: dict[int, list[tuple[int, int]]] = {}
    for name in m.foreign_names:
        flagged.setdefault(name.passage_id, []).append((name.start, name.start + len(name.name)))
    by_passage: dict[int, list[Link]] = {}
    for link in m.links:
        by_passage.setdefault(link.passage_id, []).append(link)
    spans: dict[int, list[Reused]] = {}
    for r in m.spans:
        spans.setdefault(r.copied.passage_id, []).append(r)
    ordered = sorted(set(by_passage) | set(spans), key=lambda i: snap.paras[i].start or 0)

    def piece(para: Para) -> Piece:
        found = dataclasses.replace(
            _passage(para, by_passage.get(para.id, []), report, dict(m.formula)),
            parts=parts(para.text, flagged.get(para.id, [])),
        )
        if para.id in spans:  # the shared spans themselves, not the whole passage
            cut = _segments(para, m.doc.text, spans[para.id], flagged.get(para.id, []))
            return dataclasses.replace(found, target=None, segments=cut)
        return found

    def source(i: int) -> Source:
        if i not in spans:
            return _source(snap.paras[i], by_passage[i], report, dict(m.formula))
        # Its sources by shared characters, not by paragraph link: the spans say more.
        return Source(snap.paras[i], min(spans[i], key=_rank).kind, [], [], _shared(m, spans[i], report))

    return render(
        "document.html",
        doc=m.doc,
        row=_row(m, report),
        lines=_lines(m.doc, report, Piece, piece),
        foreign=[(n, snap.docs[n.source_submission_id]) for n in m.foreign_names],
        sources=[source(i) for i in ordered],
        formula=dict(m.formula),
        removed=[snap.paras[i] for i in snap.by_doc.get(m.doc.id, ()) if snap.paras[i].removed],
        review=review,
    )


def clusters_html(report: Report) -> str:
    return render("clusters.html", clusters=report.clusters)


@dataclass(frozen=True)
class PairSegment:
    """A stretch of a passage on one side of a pair: plain, or in a shared span (its index in
    ``DocPair.spans``; ``first`` on the span's first stretch, which carries its anchor)."""

    text: str
    span: int | None = None
    first: bool = False


@dataclass(frozen=True)
class PairPiece:
    text: str = ""
    para: Para | None = None
    segments: tuple[PairSegment, ...] = ()


def _pair_piece(para: Para, text: str, spans: list[tuple[int, int, int]]) -> PairPiece:
    """A passage of one side cut at the (start, end, span index) ``spans`` it holds (the span
    with the most characters shows where two overlap)."""
    start = para.start or 0
    body = text[start : para.end or start]
    mine = sorted(
        ((lo - start, hi - start, n) for lo, hi, n in spans if lo < (para.end or 0) and hi > start),
        key=lambda r: -(r[1] - r[0]),
    )
    seen: set[int] = set()
    out: list[PairSegment] = []
    for k, end, n in _runs(len(body), [(lo, hi, n) for lo, hi, n in mine]):
        out.append(PairSegment(body[k:end], n, n is not None and n not in seen))
        if n is not None:
            seen.add(n)
    return PairPiece(para=para, segments=tuple(out))


def pair_html(pair: DocPair, report: Report) -> str:
    kind = "earlier" if pair.relation == "earlier_year" else "other"
    a_spans = [(c.start, c.end, n) for n, c in enumerate(pair.spans)]
    b_spans = [(c.other_start, c.other_end, n) for n, c in enumerate(pair.spans)]
    changes = [
        (n, diff(pair.a.text[c.start : c.end], pair.b.text[c.other_start : c.other_end]))
        for n, c in enumerate(pair.spans)
        if pair.a.text[c.start : c.end] != pair.b.text[c.other_start : c.other_end]
    ]
    return render(
        "pair.html",
        pair=pair,
        kind=kind,
        a_lines=_lines(pair.a, report, PairPiece, partial(_pair_piece, text=pair.a.text, spans=a_spans)),
        b_lines=_lines(pair.b, report, PairPiece, partial(_pair_piece, text=pair.b.text, spans=b_spans)),
        changes=changes,
    )


def pairs_html(report: Report, pairs: list[DocPair], paged: set[tuple[int, int]]) -> str:
    f = report.filters
    given = (("authority", f.authority), ("year", f.year), ("since", f.since))
    return render(
        "pairs.html",
        pairs=pairs,
        paged=paged,
        filters=", ".join(f"{k}={v}" for k, v in given if v is not None),
    )


def pages_needed(report: Report) -> list[int]:
    """Documents that get a page: the selected ones and every one they or the clusters link to."""
    ids = {m.doc.id for m in report.documents}
    ids |= {k.other_submission_id for m in report.documents for k in m.links}
    ids |= {o.submission_id for c in report.clusters for o in c.occurrences}
    return sorted(ids)


def write_site(report: Report, out: Path, review: Callable[[int], str] | None = None) -> list[Path]:
    """Write the site under ``out``; returns the files written. With ``review`` (submission id →
    the clerk's review page of it), each document page links its review, ``docs/ID-review.html``."""
    (out / "docs").mkdir(parents=True, exist_ok=True)
    (out / "pairs").mkdir(exist_ok=True)
    (out / TEXTS).parent.mkdir(exist_ok=True)
    pairs = selected(document_pairs(report), report.filters)
    paged = pairs[:MAX_PAIR_PAGES]
    written: list[tuple[Path, str]] = [
        (out / "index.html", index_html(report)),
        (out / TEXTS, texts_js(report)),
        (out / "clusters.html", clusters_html(report)),
        (out / "pairs.html", pairs_html(report, pairs, {(p.a.id, p.b.id) for p in paged})),
    ]
    written += [(out / "pairs" / f"{p.a.id}-{p.b.id}.html", pair_html(p, report)) for p in paged]
    needed = sorted(set(pages_needed(report)) | {d.id for p in pairs for d in (p.a, p.b)})
    link = "{}-review.html" if review else ""
    written += [
        (out / "docs" / f"{i}.html", document_html(report.measured[i], report, link.format(i)))
        for i in needed
    ]
    if review is not None:
        written += [(out / "docs" / f"{i}-review.html", review(i)) for i in needed]
    for path, text in written:
        path.write_text(text, encoding="utf-8")
    return [path for path, _ in written]
