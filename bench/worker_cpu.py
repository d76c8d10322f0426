"""A worker's task (``store.worker.process_chunk``) on the same files, for two versions of
``archiver``, interleaved: the same vault and results, and what each costs.

    .venv/bin/python bench/worker_cpu.py BEFORE AFTER [INBOX] [--every N] [--runs 3] [--label NAME]

BEFORE and AFTER are folders holding an ``archiver`` package, for example
``git archive COMMIT archiver | tar -x -C DIR`` (the working tree itself: ``.``). Each version
runs, in a child process of its own (``PYTHONPATH`` = the folder), what one serial worker of a
first run does: every N-th file of INBOX (default: the kit's scale-20 inbox with ``--mosaic 0.3``
at ``/tmp/base/s20m7``, every file) in tasks of 8, each task's files through ``process_located``
(decode … checks) and then into a new vault (``store_all``: the clerk's report, the object
files, the group commit), under the run's garbage-collector settings. The versions take turns,
``--runs`` times. A child reports the CPU seconds of each per-file stage and of ``archive``
(``store_all``), the part of those the kernel spent (``archive_system``: directories and files
made, the barriers) and the rest (``archive_user``), and its wall seconds (which also wait for
the disk at the barriers); its ``archiver verify --full`` of the vault it wrote; and a digest of
every vault file (the inventories without their ``created`` times, which differ run to run;
their sidecars by name) and of every result the coordinator would receive. The digests must be
equal and the vaults clean, or the script fails.
Writes bench/results/<date>-worker-cpu-<label>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

TASK_FILES = 8  # files a worker's task carries (``flow``)


def child(inbox: Path, every: int) -> None:
    """Run the worker's tasks with the ``archiver`` on ``sys.path``; print the figures."""
    from archiver import config as config_mod
    from archiver import flow
    from archiver.records import Unchanged
    from archiver.stages import ingest, process, risky
    from archiver.store import _objects
    from archiver.store.vault import Vault

    process.time = types.SimpleNamespace(perf_counter=time.process_time)  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="worker-cpu-") as tmp:
        config = config_mod.load(common.write_config(Path(tmp), workers=1))
        located = list(ingest.locate([inbox], config.ingest))[::every]
        risky._words()  # jieba's dictionary, loaded once a process: not a task's cost
        seconds: dict[str, float] = {}
        results: list[Any] = []
        with flow.collector_for_a_run():
            for lo in range(0, len(located), TASK_FILES):
                started = time.process_time()
                outcomes = [process.process_located(f, config, None) for f in located[lo : lo + TASK_FILES]]
                seconds["process"] = seconds.get("process", 0.0) + time.process_time() - started
                for outcome in outcomes:
                    for stage, spent in getattr(outcome, "timings", {}).items():
                        seconds[stage] = seconds.get(stage, 0.0) + spent
                stored = [o for o in outcomes if not isinstance(o, Unchanged)]
                started, wall, kernel = time.process_time(), time.perf_counter(), os.times().system
                results += _objects.store_all(stored, config)
                seconds["archive"] = seconds.get("archive", 0.0) + time.process_time() - started
                seconds["archive_system"] = seconds.get("archive_system", 0.0) + os.times().system - kernel
                seconds["archive_wall"] = seconds.get("archive_wall", 0.0) + time.perf_counter() - wall
        seconds["archive_user"] = seconds["archive"] - seconds["archive_system"]
        vault_root = config.resolve(config.store.vault)
        problems = Vault(vault_root, create=False).verify(full=True)
        figures = {
            "files": len(located),
            "bytes": sum(r.size for r in results),
            "seconds": seconds,
            "verify_problems": problems,
            "vault_digest": vault_digest(vault_root),
            "results_digest": results_digest(results),
            "module": _objects.__file__,
        }
        shutil.rmtree(vault_root, ignore_errors=True)
    print(json.dumps(figures))


def vault_digest(root: Path) -> str:
    """Every file under the storage root: its path and bytes; an inventory without its versions'
    ``created`` times (and its sidecar by name only), as those are the moment of writing."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("extensions/archiver-staging/"):
            h.update(f"staging left: {rel}\n".encode())
            continue
        h.update(rel.encode() + b"\n")
        if path.name == "inventory.json":
            inv = json.loads(path.read_bytes())
            for version in inv["versions"].values():
                version["created"] = ""
            h.update(json.dumps(inv, sort_keys=True, ensure_ascii=False).encode())
        elif path.name != "inventory.json.sha512":
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def results_digest(results: list[Any]) -> str:
    """What the coordinator files from each result: the outcome, version, whether it was
    written, the report (not the stage times, which are measurements)."""
    import dataclasses
    import pickle

    h = hashlib.sha256()
    for r in results:
        outcome = r.outcome
        if hasattr(outcome, "timings"):
            outcome = dataclasses.replace(outcome, timings={})
        h.update(pickle.dumps((outcome, r.size, r.version, r.written)))
        h.update(json.dumps(r.report, sort_keys=True, ensure_ascii=False, default=str).encode())
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("inbox", nargs="?", type=Path, default=Path("/tmp/base/s20m7/inbox"))
    parser.add_argument("--every", type=int, default=1, help="only every N-th file")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--label", default="s20m7")
    args = parser.parse_args(argv)

    runs = common.interleaved(
        args,
        args.runs,
        lambda version: common.version_child(__file__, version, str(args.inbox), str(args.every)),
    )
    digests = {(run["vault_digest"], run["results_digest"]) for found in runs.values() for run in found}
    problems = [p for found in runs.values() for run in found for p in run["verify_problems"]]
    if len(digests) != 1 or problems:
        raise SystemExit(f"worker_cpu: the versions disagree or a vault is damaged: {problems[:5]}")
    stages = list(runs["before"][0]["seconds"])
    best = {
        name: {stage: round(min(run["seconds"][stage] for run in found), 3) for stage in stages}
        for name, found in runs.items()
    }
    result: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "inbox": str(args.inbox),
        "every": args.every,
        "files": runs["before"][0]["files"],
        "bytes": runs["before"][0]["bytes"],
        "before": str(args.before),
        "after": str(args.after),
        "identical": True,
        "seconds": {
            name: {stage: [round(run["seconds"][stage], 3) for run in found] for stage in stages}
            for name, found in runs.items()
        },
        "best_seconds": best,
        "machine": common.machine_info(),
    }
    print(f"{result['files']} files, identical vaults and results; best of {args.runs} (CPU s):")
    for stage in stages:
        print(f"  {stage:14} before {best['before'][stage]:7.3f}  after {best['after'][stage]:7.3f}")
    common.save_result(result, "worker-cpu", args.label)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        raise SystemExit(main())
