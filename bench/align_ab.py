"""Two versions' ``align.align_columns`` on the alignments of recorded verify tasks, in one
process, task by task in turn: a comparison that a loaded host disturbs less than two children.

    .venv/bin/python bench/align_ab.py BEFORE AFTER TASKS [--every N] [--runs 3] [--label NAME]

BEFORE and AFTER are folders holding an ``archiver`` package (``git archive COMMIT archiver |
tar -x -C DIR``); TASKS a file of verify tasks as ``verify_cpu.py --tasks`` keeps them. Each
task's texts and pairs to align (what ``verify.verify`` hands ``align_columns``) are taken once
with this checkout's ``verify``, then both versions' ``stages/align.py``, loaded side by side,
align every task in turn, ``--runs`` times; their columns must be equal or the script fails.
When two children take turns (``verify_cpu.py``), the other sessions' load moves each child's
CPU seconds by ±20 % on the shared host; here both versions see the same moments of it. Writes
bench/results/<date>-align-ab-<label>.json: each run's CPU seconds of each version, summed over
the tasks (``time.process_time``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import pickle
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from archiver.stages import align, verify


def load(folder: Path, name: str) -> ModuleType:
    """``folder``'s ``archiver/stages/align.py`` as the module ``name``."""
    spec = importlib.util.spec_from_file_location(name, folder / "archiver" / "stages" / "align.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("tasks", type=Path)
    parser.add_argument("--every", type=int, default=1, help="every Nth recorded task only")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--label", default="s20m7")
    args = parser.parse_args(argv)
    versions = {"before": load(args.before, "align_before"), "after": load(args.after, "align_after")}
    with args.tasks.open("rb") as f:
        fingerprint, match, tasks = pickle.load(f)
    calls: list[tuple[list[str], align.I64, align.I64]] = []

    def taken(texts: Any, ia: align.I64, ib: align.I64) -> align.Columns:
        calls.append((list(texts), ia, ib))
        return align.align_columns(texts, ia, ib)

    for task in tasks[:: args.every]:
        verify.verify(task, fingerprint, match, taken)
    seconds: dict[str, list[float]] = {name: [] for name in versions}
    for run in range(args.runs):
        spent = dict.fromkeys(versions, 0.0)
        for texts, ia, ib in calls:
            found = {}
            for name, module in versions.items():
                started = time.process_time()
                found[name] = module.align_columns(texts, ia, ib)
                spent[name] += time.process_time() - started
            if run == 0 and not all(
                np.array_equal(x, y) for x, y in zip(found["before"], found["after"], strict=True)
            ):
                raise SystemExit("align_ab: the two versions disagree")
        for name in versions:
            seconds[name].append(round(spent[name], 3))
    result: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "tasks": str(args.tasks),
        "every": args.every,
        "before": str(args.before),
        "after": str(args.after),
        "alignments": len(calls),
        "pairs": sum(len(ia) for _, ia, _ in calls),
        "identical": True,
        "cpu_seconds": seconds,
        "ratios": [round(b / a, 3) for b, a in zip(seconds["before"], seconds["after"], strict=True)],
        "machine": common.machine_info(),
    }
    print(f"{len(calls)} tasks, {result['pairs']} pairs, identical: {seconds}, ratios {result['ratios']}")
    common.save_result(result, "align-ab", args.label)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
