"""The verify stage's alignment, pair by pair (``align.align``) and for a whole task at once
(``align.align_many``), on the verify tasks of a real run: same output, CPU and memory of each.

    .venv/bin/python bench/align_speed.py [INBOX] [--runs 3] [--label NAME]

The tasks are recorded from ``archiver.flow.run`` of INBOX (default: the kit's inbox with
``--mosaic 0.3``, seed 7) in a serial run (``[run] workers = 1``), in a temporary archive. Then
``verify.verify`` judges every task with each path, interleaved, ``--runs`` times; the results
must be identical (links, spans) or the script fails. Figures: pairs aligned, CPU seconds of
each path (the best run; the cache of ``align._grams`` emptied before each per-pair run), their
ratio, and the peak of memory traced (``tracemalloc``: Python objects and numpy arrays) while
each path runs once more. Writes bench/results/<date>-align-speed-<label>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from archiver import config as config_mod
from archiver import flow
from archiver.config import FingerprintConfig, MatchConfig
from archiver.index import links
from archiver.stages import align, verify


def per_pair(texts: Sequence[str], ia: align.I64, ib: align.I64) -> align.Columns:
    """The path before: ``align.align`` of each pair."""
    pairs = zip(ia.tolist(), ib.tolist(), strict=True)
    return align.as_columns([align.align(texts[a], texts[b]) for a, b in pairs])


def record_tasks(inbox: Path) -> tuple[FingerprintConfig, MatchConfig, list[verify.Candidates]]:
    """The verify tasks of a serial run of ``inbox`` into a new archive."""
    recorded: list[verify.Candidates] = []
    judge = links.verify_here

    def recording(
        tasks: Sequence[verify.Candidates], config: FingerprintConfig, match: MatchConfig, read: links.Reader
    ) -> list[verify.Verified]:
        recorded.extend(links.with_stored(task, read) for task in tasks)  # the texts they read, in them
        return judge(tasks, config, match, read)

    links.verify_here = recording  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory(prefix="align-speed-") as folder:
            cfg = config_mod.load(common.write_config(Path(folder), workers=1))
            flow.run(cfg, [inbox])
    finally:
        links.verify_here = judge  # type: ignore[assignment]
    return cfg.fingerprint, cfg.match, recorded


Judge = Callable[[], list[verify.Verified]]


def cpu(judge: Judge) -> tuple[float, list[verify.Verified]]:
    started = time.process_time()
    results = judge()
    return time.process_time() - started, results


def traced_peak_mb(judge: Judge) -> float:
    tracemalloc.start()
    try:
        judge()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def same(one: list[verify.Verified], other: list[verify.Verified]) -> bool:
    return [(r.links, r.band_links, r.spans) for r in one] == [
        (r.links, r.band_links, r.spans) for r in other
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inbox", nargs="?", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--label", default="mosaic7")
    args = parser.parse_args(argv)
    inbox = args.inbox or common.make_inbox(1, 7, mosaic=0.3) / "inbox"

    fingerprint, match, tasks = record_tasks(inbox)

    def before() -> list[verify.Verified]:
        align._grams.cache_clear()
        return [verify.verify(task, fingerprint, match, per_pair) for task in tasks]

    def after() -> list[verify.Verified]:
        return [verify.verify(task, fingerprint, match) for task in tasks]

    seconds: dict[str, list[float]] = {"per_pair": [], "task": []}
    for _ in range(args.runs):
        for name, judge in (("per_pair", before), ("task", after)):
            took, results = cpu(judge)
            seconds[name].append(took)
            if name == "per_pair":
                reference = results
            elif not same(reference, results):
                raise SystemExit("align_speed: the two paths disagree")
    peaks = {"per_pair": traced_peak_mb(before), "task": traced_peak_mb(after)}
    pairs = sum(len(set(t.pairs) | set(t.anchored)) for t in tasks)
    spans = sum(len(r.spans) for r in reference)
    best = {name: min(values) for name, values in seconds.items()}
    result: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "inbox": str(inbox),
        "tasks": len(tasks),
        "pairs": pairs,
        "spans": spans,
        "identical": True,
        "cpu_seconds": {name: [round(v, 3) for v in values] for name, values in seconds.items()},
        "best_cpu_seconds": {name: round(v, 3) for name, v in best.items()},
        "ratio": round(best["per_pair"] / best["task"], 2),
        "traced_peak_mb": {name: round(v, 1) for name, v in peaks.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": common.machine_info(),
    }
    print(
        f"{len(tasks)} tasks, {pairs} pairs, {spans} spans, identical: per pair "
        f"{best['per_pair']:.3f} s, per task {best['task']:.3f} s CPU ({result['ratio']}x); "
        f"traced peak {peaks['per_pair']:.1f} / {peaks['task']:.1f} MB, "
        f"process peak RSS {result['peak_rss_mb']} MB"
    )
    common.save_result(result, "align-speed", args.label)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
