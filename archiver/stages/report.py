"""What the clerk sees: a JSON-able account of one submission — encoding, every change, every
removed or warned repeat, every warning and the sections. ``archiver clean --json`` prints it;
the archive keeps it in ``provenance.json`` and ``submissions.report``."""

from __future__ import annotations

from collections import Counter
from typing import Any

from archiver.records import Passage, Processed, Rejection


def clerk_report(outcome: Processed) -> dict[str, Any]:
    decoded, cleaned = outcome.decoded, outcome.cleaned
    passages = {p.index: p for p in (*outcome.passages, *outcome.removed)}
    original = {p.index: p for p in outcome.removed}
    return {
        "file": decoded.submission.relpath,
        "status": "archived",
        "encoding": decoded.encoding,
        "confidence": round(decoded.confidence, 4),
        "year": outcome.year,
        "title": outcome.title,
        "repairs": [{"kind": r.kind, "detail": r.detail, "line": r.line} for r in decoded.repairs],
        "converted_script": cleaned.converted_script,
        "changes_by_kind": dict(sorted(Counter(c.kind for c in cleaned.changes).items())),
        "changes": [
            {"kind": c.kind, "step": c.step, "span": [c.start, c.end], "before": c.before, "after": c.after}
            for c in cleaned.changes
        ],
        "removed": [
            {
                "text": passages[r.passage].text,
                "span": _span(original[r.passage]),
                "repeats": {"passage": r.of, "text": passages[r.of].text},
                "similarity": r.similarity,
            }
            for r in outcome.repeats
            if r.removed
        ],
        "warnings": [
            {"kind": w.kind, "message": w.message, "text": w.text, "span": [w.start, w.end]}
            for w in outcome.warnings
        ],
        "sections": [
            {"level": s.level, "number": s.number, "heading": s.heading, "span": [s.start, s.end]}
            for s in outcome.sections
        ],
        "passages": len(outcome.passages),
    }


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
