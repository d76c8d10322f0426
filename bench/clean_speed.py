"""Time the per-file stages in one process, and optionally digest every output to compare two trees.

    python bench/clean_speed.py INBOX [--limit N] [--review] [--digest OUT.jsonl] [--json OUT.json]

Runs what a worker runs for each file of INBOX (``stages.process.process_located``: decode →
clean → split → fingerprint → repeats → checks) and the clerk report as the vault stores it
(``report.clerk_report``), with no database or vault, in this process and under the run's
garbage-collector settings (``flow.collector_for_a_run``): the CPU seconds of each per-file stage
without a pool's noise. ``report_clean`` is the report ``archiver clean --json`` prints
(``original_offsets``); ``--review`` also draws the review page (``archiver clean --html``).

``--digest`` writes one line per file: a hash of the archived text, the changes, the warnings,
both reports and the review page. Run it with two checkouts' code on the same inbox and ``cmp``
the files: equal digests mean byte-identical outputs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from common import machine_info  # type: ignore[import-not-found]

import archiver
from archiver import config as config_mod
from archiver import flow
from archiver.records import Processed, Rejection, Unchanged
from archiver.stages import ingest, process, risky
from archiver.stages.process import process_located
from archiver.stages.report import clerk_report, rejection_report

T = TypeVar("T")
# CPU seconds, not wall seconds, for every stage: the machine running this is often shared.
process.time = types.SimpleNamespace(perf_counter=time.process_time)  # type: ignore[assignment]
CLOCK = time.process_time


def _hash(data: Any) -> str:
    text = (
        data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _warm_up() -> None:
    risky._words()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inbox", type=Path)
    parser.add_argument("--config", type=Path, default=None, help="a config.toml (default: built-in)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N files")
    parser.add_argument("--review", action="store_true", help="also draw each review page")
    parser.add_argument("--digest", type=Path, help="write a digest line per file here")
    parser.add_argument("--json", type=Path, help="write the timings here")
    args = parser.parse_args()

    config = config_mod.load(args.config)
    located = list(ingest.locate([args.inbox], config.ingest))
    if args.limit:
        located = located[: args.limit]
    seconds: dict[str, float] = {}
    digests: list[dict[str, Any]] = []
    if args.review:
        from archiver.audit.review import review_html

    def timed(stage: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        started = CLOCK()
        result = call(*args, **kwargs)
        seconds[stage] = seconds.get(stage, 0.0) + CLOCK() - started
        return result

    timed("warm_up", _warm_up)  # jieba's dictionary: once a process, not a file
    with flow.collector_for_a_run():  # the run's garbage collector settings
        started, cpu = time.perf_counter(), time.process_time()
        warnings = 0
        for found in located:
            outcome = process_located(found, config)
            if isinstance(outcome, Unchanged):  # never: no known sha512 is given
                continue
            if isinstance(outcome, Rejection):
                digests.append({"file": found.relpath, "rejected": _hash(rejection_report(outcome))})
                continue
            assert isinstance(outcome, Processed)
            for stage, spent in outcome.timings.items():
                seconds[stage] = seconds.get(stage, 0.0) + spent
            warnings += len(outcome.warnings)
            stored = timed("report", clerk_report, outcome)
            shown = timed("report_clean", clerk_report, outcome, original_offsets=True)
            line = {
                "file": found.relpath,
                "text": _hash(outcome.text),
                "changes": _hash(
                    [
                        list(map(str, (c.kind, c.step, c.start, c.end, c.before, c.after)))
                        for c in outcome.cleaned.changes
                    ]
                ),
                "warnings": _hash(
                    [
                        [w.kind, w.message, w.text, w.start, w.end, w.message_zh, w.advice_zh]
                        for w in outcome.warnings
                    ]
                ),
                "report": _hash(stored),
                "report_clean": _hash(shown),
            }
            if args.review:
                line["review"] = _hash(timed("review", review_html, outcome))
            digests.append(line)
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    summary = {
        "inbox": str(args.inbox),
        "files": len(located),
        "warnings": warnings,
        "seconds": round(total, 2),
        "cpu_seconds": round(cpu, 2),
        "stage_cpu_seconds": {k: round(v, 3) for k, v in seconds.items()},
        "archiver": str(Path(archiver.__file__).parent),
        "machine": machine_info(),
    }
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    if args.digest:
        args.digest.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in digests))
    if args.json:
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    sys.exit(0)


if __name__ == "__main__":
    main()
