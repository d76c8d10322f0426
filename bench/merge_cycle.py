"""The band merge over a cycle of consecutive steady nights, every night counted.

    /work/venv/bin/python bench/merge_cycle.py ARCHIVE_FOLDER [--limit 1000000] [--nights 40]
                                               [--night-rows 126432] [--batches 4]

``nightly_cost.py`` times one *steady* night: the state a night before leaves, whose merge moves
about a night's rows. Its figure is the average night's only if a merge costs in proportion to
the rows it moves. A band's merge inserts its rows into that band's share of the main level
(1/32 of it) in key order; the rows are random keys, so they land all over the share, and a
merge may cost what the share's pages cost as much as what its rows do. And the kept archives'
main level was written in key order, every page full, so the first merge into a band splits
pages a later one finds room in. This script runs what a stream of nights does to the index, on
the archive in ``ARCHIVE_FOLDER`` itself (**it changes it**: give it a copy), night after night:

1. the run's merge, first thing: ``levels.compact_if_full`` with ``--limit`` as
   ``[store] recent_band_rows``, then the write-back a run does after it (``Indexer.merge``),
   one transaction each; its CPU seconds (``time.process_time``: one thread) and wall seconds;
2. the night's rows written as blocks: ``--night-rows`` rows of new passages (ids after the
   archive's), a ``1/bands`` share in each band, random keys, in ``--batches`` batches as a
   night's batches write them (``levels.write_blocks``).

Nothing else of a night runs (the lookups, the workers): only what the merge reads and writes
differs from night to night. Every night is reported, and the mean over them, beside the first
night's (the state ``nightly_cost.py`` times).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from archiver import config as config_mod
from archiver.index import levels
from archiver.store import db


def night_rows(rng: np.random.Generator, first: int, count: int, bands: int) -> np.ndarray:
    """(band, key, passage id) of ``count`` // ``bands`` new passages, a row in every band,
    sorted like the index (band, key, passage id)."""
    passages = first + np.arange(count // bands, dtype=np.int64)
    keys = rng.integers(-(1 << 62), 1 << 62, (len(passages), bands), dtype=np.int64)
    rows = np.column_stack(
        [np.repeat(np.arange(bands, dtype=np.int64), len(passages)), keys.T.ravel(), np.tile(passages, bands)]
    )
    return rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]


def merge(session: Session, limit: int) -> dict[str, Any]:
    """One run's merge (``Indexer.merge``): compact_if_full, then the write-back; timed."""
    with session.begin():
        counted = select(db.BandBlock.band, func.sum(db.BandBlock.rows)).group_by(db.BandBlock.band)
        before = {int(b): int(n) for b, n in session.execute(counted)}
    cpu, wall = time.process_time(), time.perf_counter()
    with session.begin():
        moved = levels.compact_if_full(session, limit)
    if moved:
        with session.begin():
            db.write_back(session)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    with session.begin():
        after = {int(b) for (b,) in session.execute(select(db.BandBlock.band).distinct())}
    return {
        "rows": moved,
        "bands": sum(1 for band in before if band not in after),
        "cpu_seconds": round(cpu, 3),
        "seconds": round(wall, 3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archive", type=Path, help="a steady archive's folder (a copy: it is changed)")
    ap.add_argument("--limit", type=int, default=1_000_000, help="[store] recent_band_rows")
    ap.add_argument("--nights", type=int, default=40)
    ap.add_argument("--night-rows", type=int, default=126_432, help="band rows a night adds (nightly_cost's)")
    ap.add_argument("--batches", type=int, default=4, help="batches a night writes its rows in")
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument(
        "--warm-up",
        type=int,
        default=0,
        help="nights reported, not counted in the means (another limit than the state's: until it settles)",
    )
    ap.add_argument("--tag", default="")
    ap.add_argument("--results-dir", type=Path, default=common.RESULTS)
    args = ap.parse_args(argv)
    cfg = config_mod.load(args.archive / "config.toml")
    bands = cfg.fingerprint.bands
    rng = np.random.default_rng(args.seed)
    nights: list[dict[str, Any]] = []
    first = 0
    for number in range(args.nights):
        # A new engine a night, as each night is a new process: SQLite's page cache starts cold,
        # the operating system's is warm.
        engine = db.open_engine(cfg.database_url)
        with Session(engine) as session:
            if not first:
                with session.begin():
                    first = int(session.execute(select(func.max(db.PassageRow.id))).scalar_one()) + 1
            merged = merge(session, args.limit)
            per_band = args.night_rows // bands
            rows = night_rows(rng, first, args.night_rows, bands)
            with session.begin():
                for part in np.array_split(first + np.arange(per_band), args.batches):
                    batch = rows[(rows[:, 2] >= part[0]) & (rows[:, 2] <= part[-1])]
                    levels.write_blocks(session.connection(), batch)
            first += per_band
            with session.begin():
                held = levels.recent_rows(session)
        engine.dispose()
        merged |= {
            "night": number + 1,
            "recent_rows_after": held,
            "db_mb": round(Path(engine.url.database or "").stat().st_size / 1e6, 1),
        }
        nights.append(merged)
        print(json.dumps(merged), flush=True)
    warm = min(args.warm_up, len(nights) - 1)
    counted = nights[warm:]
    cpu = [n["cpu_seconds"] for n in counted]
    wall = [n["seconds"] for n in counted]
    merging = [n for n in counted if n["rows"]]
    result: dict[str, Any] = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": common.machine_info(),
        "nights": nights,
        "first_night_cpu_seconds": nights[0]["cpu_seconds"],
        "nights_counted": len(counted),
        "mean_cpu_seconds": round(statistics.fmean(cpu), 3),
        "mean_seconds": round(statistics.fmean(wall), 3),
        "mean_rows": round(statistics.fmean(n["rows"] for n in counted)),
        "mean_bands": round(statistics.fmean(n["bands"] for n in counted), 3),
        "cpu_seconds_per_band": round(sum(cpu) / max(sum(n["bands"] for n in counted), 1), 3),
        "nights_merging": len(merging),
    }
    print(
        f"limit {args.limit:,}: {len(counted)} nights counted, mean merge {result['mean_cpu_seconds']} CPU-s "
        f"({result['mean_seconds']} s wall, {result['mean_rows']:,} rows, {result['mean_bands']} bands), "
        f"first night {nights[0]['cpu_seconds']} CPU-s; per band {result['cpu_seconds_per_band']} CPU-s"
    )
    tag = f"-{args.tag}" if args.tag else ""
    path = args.results_dir / f"{dt.date.today().isoformat()}-merge-cycle-{args.limit}{tag}.json"
    common.dump_json(path, result)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
