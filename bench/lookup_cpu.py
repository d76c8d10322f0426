"""The workers' verify stage whole (``links.find_and_verify``: the index read, the earlier
passages' texts read, the candidates verified and aligned) on the lookup tasks of a real run, for
two versions of ``archiver``, interleaved: the same results, and what each costs.

    .venv/bin/python bench/lookup_cpu.py BEFORE AFTER [INBOX] [--runs 3] [--workers 1] [--label NAME]

BEFORE and AFTER are folders holding an ``archiver`` package (``git archive COMMIT archiver |
tar -x -C DIR``; the working tree itself: ``.``). The lookup tasks are recorded once from a
serial ``flow.run`` of INBOX (default: the kit's inbox with ``--mosaic 0.3``, seed 7; this
checkout's code) together with the archive it wrote (``--keep DIR``: recorded there, and reused
when it holds a recording). A lookup reads only the index's rows and passages filed before its
batch, which the finished archive holds unchanged, so replaying the tasks against it gives what
the run's workers got. Each version then replays every task in a child process of its own
(``PYTHONPATH`` = the folder), the versions taking turns, ``--runs`` times. ``--workers N``
splits the tasks round-robin over N children run one after the other, as a pool of N workers
would share them (what a worker remembers between tasks is then what one of N remembers); the
CPU seconds are their sum. Each child reports its CPU seconds, its peak RSS and a digest of every
task's results (the links and spans written, however its candidates were cut into verify tasks);
the digests must be equal or the script fails. Writes bench/results/<date>-lookup-cpu-<label>.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import pickle
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from verify_cpu import peak_rss_mb

RECORDING = "lookups.pickle"


def child(folder: Path, worker: int, workers: int) -> None:
    """Replay this worker's share of the recorded lookups with the ``archiver`` on ``sys.path``."""
    from archiver.index import links
    from archiver.stages import verify
    from archiver.store import db

    with (folder / RECORDING).open("rb") as f:
        url, fingerprint, match, recorded = pickle.load(f)
    names = {field.name for field in dataclasses.fields(links.Lookup)}
    lookups = [
        links.Lookup(**{k: v for k, v in ({"run": "replay"} | lookup).items() if k in names})
        for lookup in recorded[worker::workers]
    ]
    connection = db.reading_engine(url).connect()
    started = time.process_time()
    found = [links.find_and_verify(lookup, fingerprint, match, connection) for lookup in lookups]
    seconds = time.process_time() - started
    connection.close()
    # What the coordinator writes of each lookup (``verify.merged``: the same however its
    # candidates were cut into verify tasks), and how many candidates it had.
    digest = [
        hashlib.sha256(pickle.dumps([verify.merged(f.verified), f.candidates])).hexdigest() for f in found
    ]
    print(
        json.dumps(
            {
                "cpu_seconds": seconds,
                "digests": digest,
                "peak_rss_mb": peak_rss_mb(),
                "module": links.__file__,
                # texts found remembered, and read (``verify.earlier_texts``; absent before it)
                "texts": getattr(verify, "earlier_counts", None),
            }
        )
    )


def record(inbox: Path, folder: Path) -> None:
    """A serial run of ``inbox`` into an archive in ``folder``, its lookup tasks pickled there."""
    from archiver import config as config_mod
    from archiver import flow
    from archiver.index import links

    recorded: list[dict[str, Any]] = []
    find = links.find_here

    def recording(lookups: Any, connection: Any, config: Any, match: Any) -> Any:
        recorded.extend(
            {field.name: getattr(lookup, field.name) for field in dataclasses.fields(lookup)}
            for lookup in lookups
        )
        return find(lookups, connection, config, match)

    links.find_here = recording  # type: ignore[assignment]
    try:
        cfg = config_mod.load(common.write_config(folder, workers=1))
        flow.run(cfg, [inbox])
    finally:
        links.find_here = find  # type: ignore[assignment]
    with (folder / RECORDING).open("wb") as f:
        pickle.dump(
            (cfg.database_url, cfg.fingerprint, cfg.match, recorded), f, protocol=pickle.HIGHEST_PROTOCOL
        )


def replay(version: Path, folder: Path, workers: int) -> dict[str, Any]:
    total: dict[str, Any] = {"cpu_seconds": 0.0, "digests": [], "peak_rss_mb": 0.0}
    shares = []
    for worker in range(workers):
        figures = common.version_child(__file__, version, str(folder), str(worker), str(workers))
        total["cpu_seconds"] += figures["cpu_seconds"]
        total["peak_rss_mb"] = max(total["peak_rss_mb"], figures["peak_rss_mb"])
        if figures["texts"] is not None:
            total["texts"] = {k: total.get("texts", {}).get(k, 0) + v for k, v in figures["texts"].items()}
        shares.append(figures["digests"])
    # Back in the order of the tasks, whichever child replayed them.
    total["digests"] = [shares[i % workers][i // workers] for i in range(sum(map(len, shares)))]
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("inbox", nargs="?", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--label", default="mosaic7")
    parser.add_argument("--keep", type=Path, help="the recorded run's folder: reused if it holds one")
    args = parser.parse_args(argv)
    inbox = args.inbox or common.make_inbox(1, 7, mosaic=0.3) / "inbox"
    folder = args.keep or common.WORK / f"lookup-cpu-{args.label}"
    if not (folder / RECORDING).exists():
        record(inbox, folder)
    runs = common.interleaved(args, args.runs, lambda version: replay(version, folder, args.workers))
    if len({json.dumps(run["digests"]) for found in runs.values() for run in found}) != 1:
        raise SystemExit("lookup_cpu: the two versions disagree")
    with (folder / RECORDING).open("rb") as f:
        lookups = pickle.load(f)[3]
    result: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "inbox": str(inbox),
        "before": str(args.before),
        "after": str(args.after),
        "lookups": len(lookups),
        "passages": sum(len(lookup["passages"]) for lookup in lookups),
        "workers": args.workers,
        "identical": True,
        **common.versions_cpu(runs),
        "earlier_texts": {name: found[0].get("texts") for name, found in runs.items()},
        "machine": common.machine_info(),
    }
    best = result["best_cpu_seconds"]
    print(
        f"{result['lookups']} lookups, {args.workers} worker(s), identical: before {best['before']:.3f} s, "
        f"after {best['after']:.3f} s CPU ({result['ratio']}x); peak RSS "
        f"{result['peak_rss_mb']['before']} / {result['peak_rss_mb']['after']} MB"
    )
    common.save_result(result, "lookup-cpu", args.label)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        raise SystemExit(main())
