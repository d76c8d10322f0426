"""What the clerk sees: a JSON-able account of one submission — encoding, every change, every
removed or warned repeat, every warning and the sections. ``archiver clean --json`` prints it;
the archive keeps it in ``provenance.json`` and ``submissions.report``."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from json.encoder import encode_basestring
from operator import attrgetter
from typing import Any

from archiver.records import Change, Passage, Processed, Rejection, Warning_
from archiver.stages.origin import Lines, Origin

QUOTE_CHARS = 30
_KIND = attrgetter("kind")


def clerk_report(
    outcome: Processed, *, original_offsets: bool = False, with_changes: bool = True
) -> dict[str, Any]:
    """The report; with ``original_offsets`` every change and removed repeat also carries
    ``original_span``, its span in the file as submitted (the decoded text), and so does every
    warning. Warnings always carry the line of the submitted file they point at. Without
    ``with_changes`` the report has no ``changes`` (``changes_json`` writes them: they come after
    ``CHANGES_AFTER``)."""
    decoded, cleaned = outcome.decoded, outcome.cleaned
    origin = Origin.of(outcome) if original_offsets or outcome.warnings else None
    lines = Lines(decoded.text) if outcome.warnings else None
    passages = {p.index: p for p in (*outcome.passages, *outcome.removed)}
    original = {p.index: p for p in outcome.removed}
    changes = [_change(c) for c in cleaned.changes] if with_changes or original_offsets else []
    removed: list[dict[str, Any]] = [
        {
            "text": passages[r.passage].text,
            "span": _span(original[r.passage]),
            "repeats": {"passage": r.of, "text": passages[r.of].text},
            "similarity": r.similarity,
        }
        for r in outcome.repeats
        if r.removed
    ]
    if original_offsets and origin is not None:
        for change, c in zip(changes, cleaned.changes, strict=True):
            change["original_span"] = list(origin.change(c))
        for repeat, passage in zip(
            removed, (original[r.passage] for r in outcome.repeats if r.removed), strict=True
        ):
            repeat["original_span"] = list(origin.cleaned(passage.start, passage.end))
    report = {
        "file": decoded.submission.relpath,
        "status": "archived",
        "encoding": decoded.encoding,
        "confidence": round(decoded.confidence, 4),
        "year": outcome.year,
        "title": outcome.title,
        "repairs": [{"kind": r.kind, "detail": r.detail, "line": r.line} for r in decoded.repairs],
        "converted_script": cleaned.converted_script,
        "changes_by_kind": dict(sorted(Counter(map(_KIND, cleaned.changes)).items())),
        "changes": changes,
        "removed": removed,
        "warnings": [_warning(w, origin, lines, original_offsets) for w in outcome.warnings],
        "sections": [
            {"level": s.level, "number": s.number, "heading": s.heading, "span": [s.start, s.end]}
            for s in outcome.sections
        ],
        "passages": len(outcome.passages),
    }
    if not with_changes:
        del report["changes"]
    return report


CHANGES_AFTER = "changes_by_kind"  # the report's key just before ``changes``


def changes_json(changes: Sequence[Change]) -> str:
    """The report's ``changes`` as ``json.dumps(…, ensure_ascii=False, separators=(",", ":"))``
    writes them, without a dict for each: the vault's provenance holds every change (10⁵ in a
    converted Traditional text), and this takes half the time."""
    enc = encode_basestring
    try:
        items = [
            f'{{"kind":{enc(c.kind)},"step":{enc(c.step)},"span":[{c.start:d},{c.end:d}],'
            f'"before":{enc(c.before)},"after":{enc(c.after)}}}'
            for c in changes
        ]
    except (TypeError, ValueError):  # not the records' types: let json say how they read
        plain = [_change(c) for c in changes]
        return json.dumps(plain, ensure_ascii=False, separators=(",", ":"), default=str)
    return "[" + ",".join(items) + "]"


def _change(c: Change) -> dict[str, Any]:
    """A change as the report lists it (``changes_json`` writes the same without the dict)."""
    return {"kind": c.kind, "step": c.step, "span": [c.start, c.end], "before": c.before, "after": c.after}


def _warning(
    w: Warning_, origin: Origin | None, lines: Lines | None, original_offsets: bool
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "kind": w.kind,
        "message": w.message,
        "message_en": w.message,
        "message_zh": w.message_zh,
        "advice_zh": w.advice_zh,
        "text": w.text,
        "quote": quote(w.text),
        "span": [w.start, w.end],
    }
    if origin is not None and lines is not None:
        start, end = origin.archived(w.start, w.end)
        found["line"] = lines.of(start)
        if original_offsets:
            found["original_span"] = [start, end]
    return found


def quote(text: str) -> str:
    """The first ``QUOTE_CHARS`` characters of ``text`` on one line, … when cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= QUOTE_CHARS else flat[:QUOTE_CHARS] + "…"


def warning_lines(report: dict[str, Any]) -> list[str]:
    """The warnings of ``clerk_report`` as the clerk reads them, one per line, in Chinese."""
    lines = []
    for w in report["warnings"]:
        where = f"第{w['line']}行" if "line" in w else ""
        quoted = f"「{w['quote']}」" if w["quote"] else ""
        lines.append(f"  {where}{quoted}：{w['message_zh'] or w['message']}。{w['advice_zh']}")
    return lines


def _span(passage: Passage) -> list[int]:
    """Span of a removed passage in the cleaned text before removal."""
    return [passage.start, passage.end]


def rejection_report(rejection: Rejection) -> dict[str, Any]:
    return {
        "file": rejection.submission.relpath,
        "status": "rejected",
        "reason": rejection.reason,
        "detail": rejection.detail,
    }
