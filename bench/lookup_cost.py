"""The main level's lookups by key (``links._main_rows``) on a kept archive, under SQLite settings.

    /work/venv/bin/python bench/lookup_cost.py ARCHIVE.sqlite3 [--tasks 22] [--repeat 5]
                                               [--variants default,mmap,cache,both]

What a night's lookup tasks read from the main level of the band index, without the rest of the
night: ``--tasks`` tasks of ``links.TASK_PASSAGES`` passages' keys in every band (the night's 200
submissions are ≈ 4,400 passages, 22 tasks), a tenth of them keys the main level holds (as a night's
reuse finds) and the rest random (the filler's keys never collide with
a night's). Each variant opens a fresh read-only connection, as a worker process does, with
SQLite's page cache cold and the operating system's warm, and runs every task once; the CPU
seconds of this process (``time.process_time``) are what is compared. Variants are interleaved
(ABCD ABCD …) so that the host's noise falls on all alike; every trial is kept.

A variant is a set of PRAGMAs issued on the connection before the tasks: ``mmap`` maps the file
(``mmap_size``: pages read without a copy into SQLite's cache), ``cache`` gives it 64 MB of page
cache (SQLite's default is 2 MB), ``both`` does both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, event

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from archiver.index import links

VARIANTS: dict[str, tuple[str, ...]] = {
    "default": (),
    "mmap": ("PRAGMA mmap_size=4294967296",),
    "cache": ("PRAGMA cache_size=-65536",),
    "both": ("PRAGMA mmap_size=4294967296", "PRAGMA cache_size=-65536"),
}


def task_keys(path: Path, tasks: int, seed: int = 3) -> tuple[list[np.ndarray], int]:
    """``tasks`` arrays of (band, key) sorted by band, and the first passage id after the archive's."""
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        bands = [int(b) for (b,) in raw.execute("SELECT DISTINCT band FROM passage_bands").fetchall()]
        last = int(raw.execute("SELECT max(passage_id) FROM passage_bands").fetchone()[0] or 0)
        rng = np.random.default_rng(seed)
        per_band = tasks * links.TASK_PASSAGES
        out: list[list[np.ndarray]] = [[] for _ in range(tasks)]
        for band in bands:
            sql = (
                f"SELECT key FROM passage_bands WHERE band = {band} AND passage_id % 61 = {band} "
                f"LIMIT {per_band // 10}"
            )
            hits = np.array(raw.execute(sql).fetchall(), dtype=np.int64).reshape(-1)
            keys = np.concatenate([hits, rng.integers(-(2**63), 2**63 - 1, per_band - len(hits), np.int64)])
            rng.shuffle(keys)
            for t, part in enumerate(np.array_split(keys, tasks)):
                out[t].append(np.column_stack([np.full(len(part), band, np.int64), np.unique(part)]))
    engine.dispose()
    return [np.concatenate(parts) for parts in out], last + 1


def trial(path: Path, pragmas: tuple[str, ...], keys: list[np.ndarray], before: int) -> dict[str, float]:
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _set(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in ("PRAGMA query_only=ON", *pragmas):
            cursor.execute(pragma)
        cursor.close()

    rows = 0
    with engine.connect() as connection:
        cpu, wall = time.process_time(), time.perf_counter()
        for part in keys:
            rows += len(links._main_rows(connection, part, before))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    engine.dispose()
    return {"cpu_seconds": round(cpu, 3), "seconds": round(wall, 3), "rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archive", type=Path, help="an archive.sqlite3 (e.g. nightly_cost.py --keep's)")
    ap.add_argument("--tasks", type=int, default=22)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--label", default="")
    ap.add_argument("--results-dir", type=Path, default=common.RESULTS)
    args = ap.parse_args(argv)
    names = args.variants.split(",")
    keys, before = task_keys(args.archive, args.tasks)
    trials: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for round_ in range(args.repeat):
        for name in names if round_ % 2 == 0 else names[::-1]:
            trials[name].append(trial(args.archive, VARIANTS[name], keys, before))
            print(f"round {round_ + 1} {name}: {trials[name][-1]}", flush=True)
    result: dict[str, Any] = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "args": {k: str(v) for k, v in vars(args).items()},
        "machine": common.machine_info(),
        "keys": int(sum(len(k) for k in keys)),
        "variants": {},
    }
    for name, runs in trials.items():
        cpu = [r["cpu_seconds"] for r in runs]
        result["variants"][name] = {
            "trials": runs,
            "cpu_seconds_median": round(statistics.median(cpu), 3),
            "cpu_seconds_min": min(cpu),
            "cpu_seconds_max": max(cpu),
        }
        print(f"{name}: CPU s median {statistics.median(cpu):.3f} (min {min(cpu)}, max {max(cpu)})")
    rows = {r["rows"] for runs in trials.values() for r in runs}
    if len(rows) != 1:
        raise SystemExit(f"the variants read different rows: {rows}")
    name = f"{dt.date.today().isoformat()}-lookup-cost{'-' + args.label if args.label else ''}.json"
    common.dump_json(args.results_dir / name, result)
    print(f"results: {args.results_dir / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
