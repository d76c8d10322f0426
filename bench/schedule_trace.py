"""Where a run on the process pool spends its wall time: each worker's busy and idle seconds,
and what the coordinator waits for.

    python bench/schedule_trace.py INBOX [--workers 2] [--out FILE.json]

Runs ``archiver.flow.run`` of INBOX on a fresh SQLite archive in a temporary folder with a
process pool of ``--workers`` (forked, so the tracing below reaches them), and times

- in the workers, every chunk (``process_chunk``) and every lookup task
  (``find_and_verify_stored``): start and end on the system's monotonic clock, per process;
- in the coordinator, its waits for a batch's chunks (``flow._resolve``) and for a batch's
  lookups (``Indexer._verify_all``), and each lookup's delay from the coordinator's asking to
  the task's start in a worker (the time it queued).

Prints and writes (``--out``) the run's wall seconds, each worker's idle seconds (from the first
task's start to the last task's end, not in a task), the coordinator's waits, and the lookups'
queueing delay (total and largest).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archiver import config as config_mod
from archiver import flow
from archiver.index import indexer, links
from archiver.store import worker

TRACE = Path(tempfile.mkdtemp(prefix="schedule-trace-"))
_process_chunk, _find = worker.process_chunk, links.find_and_verify_stored


def _traced(kind: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    started = time.monotonic()
    try:
        return fn(*args, **kwargs)
    finally:
        with (TRACE / f"{os.getpid()}.jsonl").open("a") as out:
            out.write(json.dumps([kind, started, time.monotonic()]) + "\n")


def traced_chunk(*args: Any, **kwargs: Any) -> Any:
    return _traced("chunk", _process_chunk, *args, **kwargs)


def traced_lookup(*args: Any) -> Any:
    return _traced("lookup", _find, *args)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inbox", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    waits: dict[str, list[tuple[float, float]]] = {"chunks": [], "lookups": []}
    resolve, verify_all = flow._resolve, indexer.Indexer._verify_all

    def timed_resolve(batch: Any) -> Any:
        started = time.monotonic()
        try:
            return resolve(batch)
        finally:
            waits["chunks"].append((started, time.monotonic()))

    def timed_verify_all(self: Any, *a: Any) -> Any:
        started = time.monotonic()
        try:
            return verify_all(self, *a)
        finally:
            waits["lookups"].append((started, time.monotonic()))

    flow.process_chunk = traced_chunk  # type: ignore[assignment]
    links.find_and_verify_stored = traced_lookup  # type: ignore[assignment]
    flow._resolve = timed_resolve  # type: ignore[assignment]
    indexer.Indexer._verify_all = timed_verify_all  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(prefix="schedule-trace-archive-") as tmp:
        config = config_mod.from_mapping(
            {
                "store": {"database": f"{tmp}/db.sqlite3", "vault": f"{tmp}/objects"},
                "run": {"workers": args.workers},
            },
            base_dir=Path(tmp),
        )
        started = time.monotonic()
        summary = flow.run(config, [args.inbox])
        ended = time.monotonic()
    report = _report(started, ended, waits)
    report["files"] = summary.files
    for path in TRACE.iterdir():
        path.unlink()
    TRACE.rmdir()
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


def _report(started: float, ended: float, waits: dict[str, list[tuple[float, float]]]) -> dict[str, Any]:
    workers: dict[str, Any] = {}
    lookup_starts: list[float] = []
    for path in sorted(TRACE.iterdir()):
        tasks = [json.loads(line) for line in path.read_text().splitlines()]
        busy = sum(end - start for _, start, end in tasks)
        first, last = min(t[1] for t in tasks), max(t[2] for t in tasks)
        workers[path.stem] = {
            "tasks": len(tasks),
            "busy_s": round(busy, 2),
            "idle_s": round((last - first) - busy, 2),
            "lookup_s": round(sum(end - start for kind, start, end in tasks if kind == "lookup"), 2),
        }
        lookup_starts += [start for kind, start, _ in tasks if kind == "lookup"]
    # Each lookup task's queueing: from its batch's asking to its start.
    queued: list[float] = []
    for asked, answered in waits["lookups"]:
        queued += [s - asked for s in lookup_starts if asked <= s <= answered]
    return {
        "wall_s": round(ended - started, 2),
        "workers": workers,
        "coordinator_waits_chunks_s": round(sum(e - s for s, e in waits["chunks"]), 2),
        "coordinator_waits_lookups_s": round(sum(e - s for s, e in waits["lookups"]), 2),
        "lookups": len(queued),
        "lookup_queued_s": round(sum(queued), 2),
        "lookup_queued_max_s": round(max(queued, default=0.0), 2),
    }


if __name__ == "__main__":
    main()
