"""The coordinator's ``link`` stage of a serial run, for two versions of ``archiver``,
interleaved: its CPU seconds, and the same export.

    .venv/bin/python bench/link_cpu.py BEFORE AFTER [INBOX] [--runs 2] [--database URL] [--label NAME]

BEFORE and AFTER are folders holding an ``archiver`` package (``git archive COMMIT archiver |
tar -x -C DIR``; the working tree itself: ``.``). Each version runs, in a child process of its
own (``PYTHONPATH`` = the folder), ``archiver run`` of INBOX (a folder holding ``inbox/``;
default ``/tmp/base/mosaic7``) with ``[run] workers = 1`` on a fresh archive (SQLite, or with
``--database`` a fresh PostgreSQL database ``<name>_linkcpu`` beside the one named, created and
dropped here), then its export. The child times the indexer's stages (``link``, ``compact``)
by ``time.process_time`` instead of the wall clock: a serial run's link stage
without the lookup tasks it waits for, in this process's CPU seconds, which a host shared by
other benchmarks inflates far less than wall seconds. On PostgreSQL the server's own CPU is not
in it (its wall seconds are reported too). The versions take turns, ``--runs`` times; the
exports must be byte-identical or the script fails. Writes
bench/results/<date>-link-cpu-<label>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import io
import json
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from scaleout import Postgres


def child(inbox: Path, database: str | None) -> None:
    """A serial run and export with the ``archiver`` on ``sys.path``; print the figures."""
    from archiver.cli import main
    from archiver.index import indexer

    wall: dict[str, float] = {}
    indexer.time = types.SimpleNamespace(perf_counter=time.process_time)  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="link-cpu-") as tmp:
        config = common.write_config(Path(tmp), workers=1, database=database)
        out = io.StringIO()
        started, cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(out):
            main(["--config", str(config), "run", "--json", str(inbox / "inbox")], standalone_mode=False)
        wall["run"] = time.perf_counter() - started
        run_cpu = time.process_time() - cpu
        report = json.loads(out.getvalue())
        export = Path(tmp) / "export.jsonl"
        exporting = ["--config", str(config), "export", "--format", "jsonl", "-o", str(export)]
        main(exporting, standalone_mode=False)
        digest = hashlib.sha256(export.read_bytes()).hexdigest()
    seconds = report.get("stage_seconds") or report["summary"]["stage_seconds"]
    figures = {
        "cpu_seconds": run_cpu,
        "peak_rss_mb": 0.0,
        # Not ``file``: the run's own part of it is timed in flow, by the wall clock.
        "stage_cpu_seconds": {k: round(seconds.get(k, 0.0), 4) for k in ("link", "compact")},
        "run_wall_seconds": round(wall["run"], 3),
        "export_sha256": digest,
        "module": indexer.__file__,
    }
    print(json.dumps(figures))


class LinkPostgres(Postgres):
    """``scaleout.Postgres``, named ``<name>_linkcpu``: never the database a scale-out run uses."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = self.url.replace(f"/{self.name}", f"/{self.name.removesuffix('_scaleout')}_linkcpu")
        self.name = self.name.removesuffix("_scaleout") + "_linkcpu"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path, nargs="?")
    ap.add_argument("after", type=Path, nargs="?")
    ap.add_argument("inbox", type=Path, nargs="?", default=Path("/tmp/base/mosaic7"))
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--database", default=None, help="a PostgreSQL URL: runs on <name>_linkcpu beside it")
    ap.add_argument("--label", default="")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.inbox, args.url)
        return
    server = LinkPostgres(args.database) if args.database else None

    def measure(version: Path) -> dict[str, Any]:
        extra = ["--url", server.fresh()] if server is not None else []
        try:
            return common.version_child(__file__, version, "x", "y", str(args.inbox), *extra)
        finally:
            if server is not None:
                server.drop()

    runs = common.interleaved(args, args.runs, measure)
    digests = {r["export_sha256"] for found in runs.values() for r in found}
    if len(digests) != 1:
        raise SystemExit(f"link_cpu: the exports differ: {sorted(digests)}")
    link = {name: [r["stage_cpu_seconds"]["link"] for r in found] for name, found in runs.items()}
    result = {
        "date": dt.date.today().isoformat(),
        "machine": common.machine_info(),
        "inbox": str(args.inbox),
        "backend": "postgresql" if server is not None else "sqlite",
        "runs": runs,
        "link_cpu_seconds": link,
        "best_link_cpu_seconds": {name: min(v) for name, v in link.items()},
        "link_ratio": round(min(link["before"]) / min(link["after"]), 3),
        "export_sha256": digests.pop(),
        **common.versions_cpu(runs),
    }
    print(json.dumps({k: result[k] for k in ("link_cpu_seconds", "link_ratio", "best_cpu_seconds")}))
    common.save_result(result, "link-cpu", args.label or args.inbox.name)


if __name__ == "__main__":
    main()
