#!/usr/bin/env python3
"""Where the export's ``reused`` spans go beyond the kit's span truth, and whether the text is there.

    archiver --config CFG run OUTDIR/inbox
    archiver --config CFG export --format jsonl -o export.jsonl
    python bench/span_extra.py --truth OUTDIR --export export.jsonl [--json OUT]

evaluate.py counts a predicted reused character that the truth does not mark as a false positive.
This script looks at those characters in the documents whose ``cleaned_text`` equals the truth's
``clean_text`` (no offset mapping needed): it groups them by the truth item's origin (fresh,
mosaic, embedded, …) and, for every exported span holding at least ``MIN_EXTRA`` of them, asks
whether their text (normalised: letters, digits, Han) occurs in the span's ``other_file``, in
windows of ``MIN_EXTRA`` characters, and whether that file is an eligible source (an earlier
year, or another authority in the same year: the kit's rule). A span whose extra characters are
found in an eligible source marks a real copy the truth does not list, as at scale 20, where the
kit recycles its pool of paragraphs and a "fresh" sentence has been placed before.

Exit status 0 always (a measurement, not a gate).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from audit_share import counts_for, read_jsonl

MIN_EXTRA = 13  # counted characters: the alignment's own minimum (align.MIN_MATCHED)
_NOT_COUNTED = re.compile(r"[\W_]+")


def found_share(text: str, source: str) -> float:
    """The share of ``text``'s consecutive ``MIN_EXTRA``-character windows found in ``source``."""
    windows = [text[i : i + MIN_EXTRA] for i in range(0, max(1, len(text) - MIN_EXTRA + 1), MIN_EXTRA)]
    return sum(w in source for w in windows) / len(windows)


def analyse(truth: list[dict[str, Any]], export: list[dict[str, Any]]) -> dict[str, Any]:
    docs = {t["file"].removeprefix("inbox/"): t for t in truth if t["status"] == "archived"}
    normalised: dict[str, str] = {}
    extra_by_origin: Counter[str] = Counter()
    missed_by_origin: Counter[str] = Counter()
    spans: Counter[str] = Counter()
    compared = 0
    for record in export:
        doc = docs.get(record["file"])
        if doc is None or record.get("status") != "archived":
            continue
        if record.get("cleaned_text") != doc["clean_text"]:
            continue
        compared += 1
        text = doc["clean_text"]
        true = bytearray(len(text))
        for a, b in doc.get("reused_spans") or ():
            true[a:b] = b"\x01" * (b - a)
        origin = ["none"] * len(text)
        for item in doc["items"]:
            at = item.get("clean_at")
            if at is not None:
                label = f"{item['kind']}:{item.get('origin')}"
                origin[at : at + len(item["text"])] = [label] * len(item["text"])
        marked = bytearray(len(text))
        for span in record.get("reused") or ():
            start, end = span["start"], span["end"]
            marked[start:end] = b"\x01" * (end - start)
            extra = "".join(text[j] for j in range(start, end) if not true[j] and text[j].isalnum())
            if len(extra) < MIN_EXTRA:
                continue
            other = docs.get(span.get("other_file") or "")
            if other is None:
                spans["source not archived"] += 1
                continue
            if not counts_for(doc, other):
                spans["source not eligible"] += 1
                continue
            source = normalised.setdefault(other["file"], _NOT_COUNTED.sub("", other["clean_text"]))
            share = found_share(extra, source)
            if share >= 0.8:
                spans["extra text in the source (>= 80 % of windows)"] += 1
            else:
                spans["partly" if share else "not in the source"] += 1
        for j, ch in enumerate(text):
            if ch.isalnum() and marked[j] != true[j]:
                (extra_by_origin if marked[j] else missed_by_origin)[origin[j]] += 1
    return {
        "documents_compared": compared,
        "extra_chars_by_item": dict(extra_by_origin.most_common()),
        "missed_chars_by_item": dict(missed_by_origin.most_common()),
        "spans_with_extra_chars": dict(spans.most_common()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--truth", type=Path, required=True, help="make_inbox.py's output folder")
    parser.add_argument("--export", type=Path, required=True, help="archiver export --format jsonl")
    parser.add_argument("--json", type=Path, help="write the result here too")
    args = parser.parse_args()
    result = analyse(read_jsonl(args.truth / "truth.jsonl"), read_jsonl(args.export))
    text = json.dumps(result, ensure_ascii=False, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
