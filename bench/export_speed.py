"""``archiver export`` and ``archiver audit --format json`` on one archive: two code trees,
interleaved runs, the outputs checked byte-identical.

    .venv/bin/python bench/export_speed.py --config ARCHIVE/config.toml --before TREE
                                           [--runs 2] [--audit] [--label NAME]

TREE is a folder holding the ``archiver`` package of the code before
(``git archive REV archiver | tar -x -C TREE``); after is this checkout. Each command runs as a
child process: wall seconds, CPU seconds (user + system: on a shared machine the wall time
follows the load, the CPU time much less) and peak RSS (the kernel's ru_maxrss). The archive is
only read. Writes bench/results/<date>-export-speed-<label>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common


def run(tree: Path, config: Path, args: list[str], out: Path) -> dict[str, Any]:
    """One archiver command with the package of ``tree``; its figures and output digest."""
    cmd = [sys.executable, "-c", "from archiver.cli import main; main()", "--config", str(config), *args]
    start = time.perf_counter()
    child = subprocess.Popen([*cmd, "-o", str(out)], cwd=tree, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status:
        raise SystemExit(f"{' '.join(cmd)}: exit status {status}")
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    out.unlink()
    return {
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "sha256": digest,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, required=True, help="the archive's config.toml")
    ap.add_argument("--before", type=Path, required=True, help="a folder holding the archiver package before")
    ap.add_argument("--runs", type=int, default=2, help="interleaved pairs (before, after) per command")
    ap.add_argument("--audit", action="store_true", help="also time `archiver audit --format json`")
    ap.add_argument("--label", default="scale20", help="the results file's name part")
    ap.add_argument("--results-dir", type=Path, default=common.RESULTS)
    args = ap.parse_args(argv)
    trees = {"before": args.before.resolve(), "after": common.REPO}
    commands = {"export": ["export", "--format", "jsonl"]}
    if args.audit:
        commands["audit_json"] = ["audit", "--format", "json"]
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="export-speed-") as tmp:
        for name, command in commands.items():
            for n in range(1, args.runs + 1):
                for side, tree in trees.items():
                    figures = run(tree, args.config.resolve(), command, Path(tmp) / "out")
                    runs.append({"command": name, "side": side, "run": n, **figures})
                    print(json.dumps(runs[-1]), flush=True)
    identical = {name: len({r["sha256"] for r in runs if r["command"] == name}) == 1 for name in commands}
    result = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "config": str(args.config),
        "before": str(args.before),
        "machine": common.machine_info(),
        "load_average_at_end": os.getloadavg(),
        "runs": runs,
        "identical_output": identical,
    }
    path = args.results_dir / f"{dt.date.today().isoformat()}-export-speed-{args.label}.json"
    common.dump_json(path, result)
    print(f"identical output: {identical}\nresults: {path}")


if __name__ == "__main__":
    main()
