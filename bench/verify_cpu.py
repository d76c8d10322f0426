"""The verify stage's CPU on the verify tasks of a real run, for two versions of ``archiver``,
interleaved: the same results, and what each costs.

    .venv/bin/python bench/verify_cpu.py BEFORE AFTER [INBOX] [--runs 3] [--label NAME] [--every N]

BEFORE and AFTER are folders holding an ``archiver`` package, for example
``git archive COMMIT archiver | tar -x -C DIR`` (the working tree itself: ``.``). The tasks are
recorded once from a serial ``flow.run`` of INBOX (default: the kit's inbox with ``--mosaic
0.3``, seed 7; ``align_speed.record_tasks``, this checkout's code) and pickled into
``bench/work/`` (``--tasks FILE``: kept there, and read instead of a run when it exists). Then
each version judges every task with ``verify.verify`` in a child process of its own
(``PYTHONPATH`` = the folder), the versions taking turns, ``--runs`` times: a child is one
serial worker, which judges the tasks in order (what a worker remembers between tasks counts).
Each child reports its CPU seconds, its peak RSS (VmHWM: the tasks and results held, not only
a worker's) and a digest of every task's links and spans; the digests must be equal or the
script fails. ``--every N`` judges every Nth task only (a run short enough to need no bench
lock). Writes bench/results/<date>-verify-cpu-<label>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import pickle
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common


def child(tasks_file: Path) -> None:
    """Judge the pickled tasks with the ``archiver`` on ``sys.path``; print the figures."""
    from archiver.stages import verify

    with tasks_file.open("rb") as f:
        fingerprint, match, tasks = pickle.load(f)
    started = time.process_time()
    results = [verify.verify(task, fingerprint, match) for task in tasks]
    seconds = time.process_time() - started
    digest = hashlib.sha256(pickle.dumps([(r.links, r.band_links, r.spans) for r in results])).hexdigest()
    print(
        json.dumps(
            {
                "cpu_seconds": seconds,
                "digest": digest,
                "peak_rss_mb": peak_rss_mb(),
                "module": verify.__file__,
            }
        )
    )


def peak_rss_mb() -> float:
    """This process's peak resident set: VmHWM (``ru_maxrss`` keeps the parent's across exec)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (line,) = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(line.split()[1]) / 1024


def judge(version: Path, tasks_file: Path) -> dict[str, Any]:
    return common.version_child(__file__, version, str(tasks_file))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("inbox", nargs="?", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--label", default="mosaic7")
    parser.add_argument("--tasks", type=Path, help="the recorded tasks: read if there, else kept there")
    parser.add_argument("--every", type=int, default=1, help="judge every Nth recorded task only")
    args = parser.parse_args(argv)

    import align_speed  # imports archiver: only in the parent

    tasks_file = args.tasks or common.WORK / f"verify-cpu-{args.label}.pickle"
    if args.tasks and args.tasks.exists():
        with tasks_file.open("rb") as f:
            recorded = pickle.load(f)
        source = str(args.inbox or f"the tasks recorded in {tasks_file}")  # not run again
    else:
        inbox = args.inbox or common.make_inbox(1, 7, mosaic=0.3) / "inbox"
        recorded = align_speed.record_tasks(inbox)
        source = str(inbox)
        tasks_file.parent.mkdir(parents=True, exist_ok=True)
        with tasks_file.open("wb") as f:
            pickle.dump(recorded, f, protocol=pickle.HIGHEST_PROTOCOL)
    if args.every > 1:
        # A subset of the tasks, in a file of its own the children read.
        recorded = (*recorded[:2], recorded[2][:: args.every])
        tasks_file = tasks_file.with_name(f"{tasks_file.stem}-every{args.every}.pickle")
        with tasks_file.open("wb") as f:
            pickle.dump(recorded, f, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        runs = common.interleaved(args, args.runs, lambda version: judge(version, tasks_file))
    finally:
        if not args.tasks or args.every > 1:
            tasks_file.unlink()
    digests = {run["digest"] for found in runs.values() for run in found}
    if len(digests) != 1:
        raise SystemExit("verify_cpu: the two versions disagree")
    tasks = recorded[2]
    result: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "inbox": source,
        "every": args.every,
        "before": str(args.before),
        "after": str(args.after),
        "tasks": len(tasks),
        "pairs": sum(len(set(t.pairs) | set(t.anchored)) for t in tasks),
        "identical": True,
        **common.versions_cpu(runs),
        "machine": common.machine_info(),
    }
    best = result["best_cpu_seconds"]
    print(
        f"{result['tasks']} tasks, {result['pairs']} pairs, identical: before {best['before']:.3f} s, "
        f"after {best['after']:.3f} s CPU ({result['ratio']}x); peak RSS "
        f"{result['peak_rss_mb']['before']} / {result['peak_rss_mb']['after']} MB"
    )
    common.save_result(result, "verify-cpu", args.label)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(Path(sys.argv[2]))
    else:
        raise SystemExit(main())
