#!/usr/bin/env python3
"""Compare ``archiver audit``'s total reuse (reused_share + formula_share) with the kit's truth.

    archiver --config CFG run OUTDIR/inbox
    archiver --config CFG audit --format json -o audit.json
    python bench/audit_share.py --truth OUTDIR --audit audit.json [--tolerance 0.05] [--worst 10]

Truth for a document: with span truth (make_inbox.py --mosaic or --span-truth) the kit's own
``reused_chars / chars`` (copied sentences and embedded paragraphs count); without it (the issue's
definition) the characters of its paragraph items (not
removed as intra repeats) whose ``pid`` is shared, through a pair with ``positive: true`` in
``truth_pairs.jsonl``, with an item of another submission of an earlier year or of another
authority in the same year, divided by the characters of its ``clean_text`` without newlines.

Prints the share of archived documents whose audit figure is within the tolerance, and the worst
documents. Exit status 0 always (this is a measurement, not a gate).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def counts_for(doc: dict[str, Any], other: dict[str, Any]) -> bool:
    """True when ``other`` is an earlier year, or another authority's same year, for ``doc``."""
    if doc["year"] is None or other["year"] is None:
        return False
    same_year_elsewhere = other["year"] == doc["year"] and other["authority"] != doc["authority"]
    return bool(other["year"] < doc["year"] or same_year_elsewhere)


def truth_shares(truth: list[dict[str, Any]], pairs: list[dict[str, Any]]) -> dict[str, float]:
    """File (relative to the inbox) → the true reused share, for archived documents."""
    docs = {t["file"]: t for t in truth if t["status"] == "archived"}
    reused: dict[str, set[int]] = defaultdict(set)
    for pair in pairs:
        if not pair["positive"] or pair["a"] not in docs or pair["b"] not in docs:
            continue
        for mine, item, other in ((pair["a"], pair["ai"], pair["b"]), (pair["b"], pair["bi"], pair["a"])):
            if counts_for(docs[mine], docs[other]):
                reused[mine].add(item)
    out: dict[str, float] = {}
    for file, doc in docs.items():
        if "reused_chars" in doc and doc.get("chars"):
            out[file.removeprefix("inbox/")] = doc["reused_chars"] / doc["chars"]
            continue
        items = {it["i"]: it for it in doc["items"]}
        chars = sum(len(items[i]["text"]) for i in reused[file] if items[i].get("repeat_of") is None)
        total = len(doc["clean_text"].replace("\n", ""))
        out[file.removeprefix("inbox/")] = chars / total if total else 0.0
    return out


def total(document: dict[str, Any]) -> float:
    """The audit's total reuse: substantive plus formula (schema 2 sets formula apart; the kit's
    truth does not tell them apart)."""
    return float(document["reused_share"]) + float(document.get("formula_share", 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--truth", type=Path, required=True, help="the make_inbox.py OUTDIR")
    parser.add_argument("--audit", type=Path, required=True, help="archiver audit --format json output")
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--worst", type=int, default=10)
    args = parser.parse_args()
    truth = truth_shares(read_jsonl(args.truth / "truth.jsonl"), read_jsonl(args.truth / "truth_pairs.jsonl"))
    audit = {d["file"]: d for d in json.loads(args.audit.read_text(encoding="utf-8"))["documents"]}
    rows = [(abs(total(audit[f]) - t) if f in audit else 1.0, f, t) for f, t in truth.items()]
    within = sum(1 for err, _, _ in rows if err <= args.tolerance)
    missing = [f for f in truth if f not in audit]
    print(f"documents: {len(rows)} archived in truth, {len(audit)} in the audit, {len(missing)} missing")
    print(f"within {args.tolerance}: {within}/{len(rows)} = {within / max(len(rows), 1):.1%}")
    mean = sum(err for err, _, _ in rows) / max(len(rows), 1)
    print(f"mean absolute error: {mean:.4f}")
    print("worst:")
    for err, file, true in sorted(rows, reverse=True)[: args.worst]:
        got = total(audit[file]) if file in audit else None
        print(f"  {err:.3f}  truth {true:.3f}  audit {got}  {file}")


if __name__ == "__main__":
    main()
