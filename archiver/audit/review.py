"""The clerk's review page of one cleaned submission: ``review_html(outcome) -> str``.

The file as submitted and the cleaned text side by side, one row per paragraph of the cleaned
text (and one per removed repeat, in the place it had), each change marked by kind (pinyin
removed, script, punctuation, layout; a risky conversion also as ``risky``) with its before →
after on hover and click, the warnings in the margin of the row they point at, and each removed
repeat linked to the row of the passage it repeats. Rendered from ``templates/review.html`` with
the audit site's environment (autoescaping on), self-contained like every page of it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.audit.html import render
from archiver.config import DecodeConfig
from archiver.records import (
    Change,
    Cleaned,
    Passage,
    PassageKind,
    Processed,
    Rejection,
    Repeat,
    Submission,
    Warning_,
)
from archiver.stages import decode, risky
from archiver.stages.clean import STEPS
from archiver.stages.origin import Lines, Origin
from archiver.stages.repeats import removal_spans
from archiver.store.db import Document as DocumentRow
from archiver.store.db import PassageRow
from archiver.store.db import Submission as SubmissionRow
from archiver.store.vault import Vault

KIND_OF = {
    "pinyin": "pinyin",
    "t2s": "script",
    "punctuation": "punctuation",
    "indent": "layout",
    "newline": "layout",
    "heading_split": "layout",
    "invisible": "layout",
    "nfc": "layout",
}
KIND_LABEL = {
    "pinyin": "删除拼音 pinyin removed",
    "script": "繁转简 script",
    "risky": "需核对的繁转简 risky script",
    "punctuation": "标点 punctuation",
    "layout": "版式 layout",
    "repeat": "删除的重复段落 repeat removed",
}


@dataclass(frozen=True)
class Mark:
    change: int  # index of the change in ``Cleaned.changes``
    start: int
    end: int
    kind: str
    before: str
    after: str


@dataclass(frozen=True)
class Piece:
    text: str
    mark: Mark | None = None


@dataclass
class Row:
    anchor: str
    original_start: int
    line: int
    original: list[Piece]
    cleaned: list[Piece]
    removed: bool = False
    repeats: str = ""  # anchor of the row a removed repeat repeats
    repeats_text: str = ""
    similarity: float = 0.0
    warnings: list[Warning_] = field(default_factory=list)


def review_html(outcome: Processed, back: str = "") -> str:
    """The page; ``back`` links the audit site's page of the document (its archived review)."""
    cleaned = outcome.cleaned
    spans = removal_spans(cleaned.text, outcome.removed)
    origin = Origin(cleaned.changes, spans)
    source = outcome.decoded.text
    lines = Lines(source)
    left, right = _marks(cleaned.changes, origin)
    anchors = {p.index: f"r{p.index}" for p in (*outcome.passages, *outcome.removed)}
    rows = [
        _row(p, origin.archived(p.start, p.end), source, lines, outcome.text, left, right, anchors)
        for p in outcome.passages
    ]
    removed_of = {r.passage: r for r in outcome.repeats if r.removed}
    by_index = {p.index: p for p in (*outcome.passages, *outcome.removed)}
    for p in outcome.removed:
        row = _row(p, origin.cleaned(p.start, p.end), source, lines, "", left, [], anchors)
        repeat = removed_of[p.index]
        row.removed, row.repeats, row.similarity = True, anchors[repeat.of], repeat.similarity
        row.repeats_text = by_index[repeat.of].text
        rows.append(row)
    rows.sort(key=lambda r: r.original_start)
    general = _place_warnings(outcome.warnings, outcome.passages, rows)
    counts = Counter(KIND_OF.get(c.kind, "layout") for c in cleaned.changes)
    return render(
        "review.html",
        title=f"审阅 {outcome.submission.relpath}",
        outcome=outcome,
        rows=rows,
        general=general,
        counts=counts,
        removed=len(outcome.removed),
        review_label=KIND_LABEL,
        back=back,
    )


def _marks(changes: tuple[Change, ...], origin: Origin) -> tuple[list[Mark], list[Mark]]:
    """Every change as a mark on the submitted text, and on the archived text where it left
    characters that are still there."""
    chars = risky.risky_chars()
    left: list[Mark] = []
    right: list[Mark] = []
    seen: dict[str, int] = {}
    for number, change in enumerate(changes):
        step = origin.steps[STEPS.index(change.step)]
        i = seen.get(change.step, 0)
        seen[change.step] = i + 1
        if change.before.isspace() and (not change.after or change.after.isspace()):
            continue  # layout whitespace: counted, not drawn
        kind = KIND_OF.get(change.kind, "layout")
        if kind == "script" and any(c in chars and c not in change.after for c in change.before):
            kind = "risky"
        start, end = origin.change(change)
        left.append(Mark(number, start, end, kind, change.before, change.after))
        if change.after and not change.after.isspace():
            out = origin.ahead(change.step, step.out_start[i], step.out_end[i])
            if out is not None:
                right.append(Mark(number, out[0], out[1], kind, change.before, change.after))
    return left, right


def _row(
    passage: Passage,
    original: tuple[int, int],
    source: str,
    lines: Lines,
    text: str,
    left: list[Mark],
    right: list[Mark],
    anchors: dict[int, str],
) -> Row:
    start, end = original
    cleaned = _pieces(text, passage.start, passage.end, right) if text else []
    return Row(
        anchor=anchors[passage.index],
        original_start=start,
        line=lines.of(start),
        original=_pieces(source, start, end, left),
        cleaned=cleaned,
    )


def _pieces(text: str, start: int, end: int, marks: list[Mark]) -> list[Piece]:
    """``text[start:end]`` in pieces, each character under the narrowest mark covering it."""
    best: list[Mark | None] = [None] * (end - start)
    for mark in marks:
        if mark.end <= start or mark.start >= end:
            continue
        for i in range(max(mark.start, start), min(mark.end, end)):
            held = best[i - start]
            if held is None or (held.end - held.start) > (mark.end - mark.start):
                best[i - start] = mark
    pieces: list[Piece] = []
    run = start
    for i in range(start + 1, end + 1):
        if i == end or best[i - start] is not best[run - start]:
            pieces.append(Piece(text[run:i], best[run - start]))
            run = i
    return pieces


def _place_warnings(
    warnings: tuple[Warning_, ...], passages: tuple[Passage, ...], rows: list[Row]
) -> list[Warning_]:
    """Attach each warning to the row of the passage it starts in; the rest are for the page."""
    by_anchor = {row.anchor: row for row in rows}
    general: list[Warning_] = []
    for warning in warnings:
        holder = next((p for p in passages if p.start <= warning.start < p.end), None)
        if holder is None or warning.end <= warning.start:
            general.append(warning)
        else:
            by_anchor[f"r{holder.index}"].warnings.append(warning)
    return general


class NotRebuilt(Exception):
    """The stored records of a submission do not give back its archived text exactly."""


def stored_review_html(session: Session, vault: Vault, submission_id: int, config: DecodeConfig) -> str:
    """The review page of an archived submission, rebuilt from what the archive stores (see
    ``stored_outcome``); a page saying what does not match when the records do not."""
    try:
        return review_html(stored_outcome(session, vault, submission_id, config), f"{submission_id}.html")
    except NotRebuilt as e:
        row = session.get(SubmissionRow, submission_id)
        relpath = row.relpath if row is not None else str(submission_id)
        return render("review_missing.html", title=f"审阅 {relpath}", relpath=relpath, reason=str(e))


def stored_outcome(session: Session, vault: Vault, submission_id: int, config: DecodeConfig) -> Processed:
    """The outcome of an archived submission as its review page needs it, from the vault (the
    original bytes, the archived text, ``provenance.json``'s report with every change) and the
    database (its passages). Only decoding runs again; every clean step's changes are replayed
    from the record, checked against the text they edit, and the repeats cut as recorded: the
    result must be the archived text character for character (else ``NotRebuilt``)."""
    row = session.get(SubmissionRow, submission_id)
    if row is None or row.status != "archived":
        raise NotRebuilt(f"submission {submission_id} is not an archived submission")
    document = session.get(DocumentRow, row.document_id)
    assert document is not None
    name = PurePosixPath(row.relpath).name
    raw = vault.read(document.object_id, f"original/{name}", row.version)
    archived = vault.read(document.object_id, f"cleaned/{PurePosixPath(name).stem}.txt", row.version)
    report = json.loads(vault.read(document.object_id, "provenance.json", row.version))["report"]
    submission = Submission(Path(row.relpath), row.relpath, raw, row.sha512, row.authority, row.year)
    decoded = decode.decode(submission, config)
    if isinstance(decoded, Rejection) or decoded.encoding != report["encoding"]:
        raise NotRebuilt("decoding the original again does not give the encoding recorded")
    changes = tuple(
        Change(c["kind"], c["step"], c["span"][0], c["span"][1], c["before"], c["after"])
        for c in report["changes"]
    )
    text = _replay(decoded.text, changes)
    rows = session.scalars(
        select(PassageRow).where(PassageRow.submission_id == submission_id).order_by(PassageRow.idx)
    ).all()
    kept = tuple(
        Passage(p.idx, _kind(p.kind), p.start or 0, p.end or 0, p.text, p.section_idx)
        for p in rows
        if not p.removed
    )
    gone = [p for p in rows if p.removed]
    if len(gone) != len(report["removed"]):
        raise NotRebuilt("the removed repeats recorded in the database and in the vault differ")
    removed = tuple(
        Passage(p.idx, _kind(p.kind), r["span"][0], r["span"][1], p.text, p.section_idx)
        for p, r in zip(gone, sorted(report["removed"], key=lambda r: r["span"][0]), strict=True)
    )
    cut = removal_spans(text, removed)
    result = _cut(text, cut)
    if any(text[p.start : p.end] != p.text for p in removed) or result != archived.decode("utf-8"):
        raise NotRebuilt("the recorded changes and repeats do not give back the archived text")
    if any(result[p.start : p.end] != p.text for p in kept):
        raise NotRebuilt("the passages recorded in the database are not where the archived text has them")
    by_start = {p.start: p.index for p in removed}
    repeats = tuple(
        Repeat(by_start[r["span"][0]], r["repeats"]["passage"], r["similarity"], True)
        for r in report["removed"]
    )
    warnings = tuple(
        Warning_(
            w["kind"], w["message"], w["text"], w["span"][0], w["span"][1], w["message_zh"], w["advice_zh"]
        )
        for w in report["warnings"]
    )
    cleaned = Cleaned(decoded, text, changes, report["converted_script"])
    return Processed(
        decoded, cleaned, warnings, (), kept, removed, (), repeats, result, report["title"], report["year"]
    )


def _replay(text: str, changes: tuple[Change, ...]) -> str:
    """``text`` with the recorded ``changes`` applied step by step, each checked against the text
    its step was given."""
    for step in STEPS:
        parts: list[str] = []
        pos = 0
        for c in (c for c in changes if c.step == step):
            if c.start < pos or text[c.start : c.end] != c.before:
                raise NotRebuilt(f"a recorded {step} change does not match the text it edits")
            parts += [text[pos : c.start], c.after]
            pos = c.end
        text = "".join(parts) + text[pos:]
    return text


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    kept, pos = [], 0
    for start, end in spans:
        kept.append(text[pos:start])
        pos = end
    return "".join(kept) + text[pos:]


def _kind(kind: str) -> PassageKind:
    return cast(PassageKind, kind)
