"""One process's copy of the band index's blocks (``levels.upper_rows``): its size and what reading it costs.

    /work/venv/bin/python bench/blocks_memory.py ARCHIVE.sqlite3

Reads every block of the archive into this process's copy, as a worker's first lookup does, and
prints as JSON the rows and blocks, the held arrays' bytes (and per row), the process's peak RSS
growth while reading them (``ru_maxrss`` before and after) and the reading's CPU seconds. Run it
in a fresh process per measurement (peak RSS only grows); to compare two versions, put the other
version's checkout first on ``PYTHONPATH`` and alternate.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

from archiver.index import levels
from archiver.store import db


def measure(archive: Path) -> dict[str, object]:
    engine = db.reading_engine(f"sqlite:///{archive}")
    with engine.connect() as connection:
        live = levels.block_ids(connection)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cpu = time.process_time()
        levels.upper_rows(connection, "blocks_memory", live, np.array([[0, 0]], dtype=np.int64), 1 << 40)
        cpu = time.process_time() - cpu
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    held = levels._held
    assert held is not None
    bands = held.bands.values()
    rows = sum(len(b.keys) for b in bands)
    nbytes = sum(b.keys.nbytes + b.passages.nbytes + b.blocks.nbytes for b in bands)
    return {
        "code": levels.__file__,
        "blocks": len(live),
        "rows": rows,
        "held_mb": round(nbytes / 1e6, 2),
        "bytes_per_row": round(nbytes / max(rows, 1), 2),
        "peak_rss_growth_mb": round((after - before) / 1024, 1),
        "refresh_cpu_seconds": round(cpu, 3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "archive", type=Path, help="an archive.sqlite3 (e.g. nightly_cost.py --keep's steady state)"
    )
    args = ap.parse_args(argv)
    print(json.dumps(measure(args.archive)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
