"""How many workers the coordinator can feed: a scale-out model from serial runs, and a real
Dask run.

    python bench/scaleout.py [--scale N] [--seed S] [--mosaic F] [--inbox OUTDIR]
                             [--database postgresql+psycopg://…] [--repeat R] [--workers W]
                             [--skip-real]

1. ``archiver run --json`` with ``workers = 1`` of the inbox on a fresh SQLite archive and,
   with ``--database``, on a fresh PostgreSQL database beside the one named (``<name>_scaleout``,
   created and dropped here; the named one is not touched), ``--repeat`` times each, interleaved;
2. from each run's ``stage_seconds``: the workers' seconds per MB (decode, clean, split,
   fingerprint, match, checks, archive, verify: the tasks a worker runs) and the coordinator's
   (file, link, settle, compact, search), the number of workers the coordinator can feed (worker
   seconds / coordinator seconds) and the modelled throughput of 2, 8 and 32 workers,
   ``min(n × MB / worker seconds, MB / coordinator seconds)``: the workers in parallel, the
   coordinator one process filing what they send (the median run of each backend). A serial run
   waits for nothing, so its coordinator's stages are busy time; they are wall-clock seconds,
   so a busy host inflates both sides;
3. a real run on a process pool and one on a Dask ``LocalCluster``, both of ``--workers``
   processes, on SQLite: wall seconds and MB/s of the ``archiver run`` child (the cluster is
   started, and its workers import archiver, before it: not timed), the coordinator's CPU
   seconds (``cpu_seconds``: the run's own process, never the time it waits for its workers,
   but what it spends sending them tasks and taking their results) and the workers' stage
   seconds over them, and every export compared byte for byte (pool, Dask, the serial runs,
   PostgreSQL's);
4. writes ``bench/results/<date>-scaleout-scale<N>-seed<S>[-mosaic<F>].json``.

The inbox is generated once and cached in bench/work/ (``common.make_inbox``), or taken as is
from ``--inbox`` (a folder made by make_inbox.py, holding ``inbox/``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from measure import measure
from run_bench import STAGES, _check

COORDINATOR = ("file", "link", "settle", "compact", "search")
MODELLED = (2, 8, 32)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=int, default=1, help="make_inbox.py --scale (20 ≈ 28.6 MB)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--mosaic", type=float, default=0.0, help="make_inbox.py --mosaic (0: off)")
    ap.add_argument("--authorities", type=int, default=20)
    ap.add_argument("--years", default="2019-2025")
    ap.add_argument("--inbox", type=Path, help="a make_inbox.py output folder to use instead of generating")
    ap.add_argument(
        "--database",
        help="a PostgreSQL URL: the serial runs also run on a database <name>_scaleout beside it",
    )
    ap.add_argument("--repeat", type=int, default=1, help="serial runs per backend (interleaved)")
    ap.add_argument("--workers", type=int, default=2, help="processes of the real pool and Dask runs")
    ap.add_argument("--batch-size", type=int, default=None, help="[run] batch_size (default: config.toml's)")
    ap.add_argument("--skip-real", action="store_true", help="only the serial runs and the model")
    ap.add_argument("--keep", action="store_true", help="keep the temporary archives and exports")
    ap.add_argument("--work-dir", type=Path, default=common.WORK, help="where inboxes are cached")
    ap.add_argument("--results-dir", type=Path, default=common.RESULTS)
    return ap.parse_args(argv)


def model(stage_seconds: dict[str, float], megabytes: float) -> dict[str, Any]:
    """Seconds per MB on each side of a serial run, the workers the coordinator can feed, and the
    modelled MB/s of n workers."""
    worker = sum(stage_seconds.get(k, 0.0) for k in STAGES)
    coordinator = sum(stage_seconds.get(k, 0.0) for k in COORDINATOR)
    return {
        "worker_seconds": round(worker, 3),
        "coordinator_seconds": round(coordinator, 3),
        "worker_seconds_per_mb": round(worker / megabytes, 4),
        "coordinator_seconds_per_mb": round(coordinator / megabytes, 4),
        "workers_fed": round(worker / coordinator, 2) if coordinator else None,
        "modelled_mb_per_s": {
            str(n): round(min(n * megabytes / worker, megabytes / coordinator if coordinator else 1e9), 2)
            for n in MODELLED
        },
    }


class Postgres:
    """A fresh database ``<name>_scaleout`` on the server of ``url``, made anew for each run."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        base = make_url(url)
        self.name = f"{base.database}_scaleout"
        self.url = base.set(database=self.name).render_as_string(hide_password=False)
        self.admin = create_engine(base, isolation_level="AUTOCOMMIT")

    def fresh(self) -> str:
        self.drop()
        self._execute(f'CREATE DATABASE "{self.name}"')
        return self.url

    def drop(self) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _execute(self, statement: str) -> None:
        from sqlalchemy import text

        with self.admin.connect() as connection:
            connection.execute(text(statement))


def archiver_run(folder: Path, inbox: Path, megabytes: float, **config: Any) -> dict[str, Any]:
    """``archiver run --json`` of ``inbox`` on a fresh archive in ``folder`` (``config``:
    ``common.write_config``'s arguments), then its export; figures, summary, export digest."""
    path = common.write_config(folder, **config)
    run = measure([*common.ARCHIVER, "--config", str(path), "run", "--json", str(inbox)])
    _check(run, f"archiver run ({folder.name})")
    summary = json.loads(run.stdout)
    export = folder / "export.jsonl"
    _check(
        measure([*common.ARCHIVER, "--config", str(path), "export", "-o", str(export)]),
        f"archiver export ({folder.name})",
    )
    stages = summary["stage_seconds"]
    accounted = sum(stages.get(k, 0.0) for k in (*STAGES, *COORDINATOR))
    workers = sum(stages.get(k, 0.0) for k in STAGES)
    return {
        "wall_seconds": run.wall_seconds,
        "mb_per_s": round(megabytes / run.wall_seconds, 3),
        "self_reported_seconds": summary["seconds"],
        "coordinator_cpu_seconds": summary["cpu_seconds"],
        "coordinator_cpu_seconds_per_mb": round(summary["cpu_seconds"] / megabytes, 4),
        # The workers' stage seconds per CPU second of the coordinator: with workers = 1 the
        # run's process is both, so this is only meaningful for the pool and Dask runs.
        "workers_fed_by_cpu": round(workers / summary["cpu_seconds"], 2) if summary["cpu_seconds"] else None,
        # The run's own seconds in no stage: listing the inbox, reading files, opening the database.
        "unattributed_seconds": round(summary["seconds"] - accounted, 3),
        "peak_rss_max_process_mb": run.peak_rss_max_process_mb,
        "stage_seconds": stages,
        "summary": summary,
        "export_sha256": hashlib.sha256(export.read_bytes()).hexdigest(),
    }


def serial_runs(
    args: argparse.Namespace, inbox: Path, megabytes: float, tmp: Path, postgres: Postgres | None
) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {"sqlite": []}
    if postgres:
        runs["postgresql"] = []
    for i in range(args.repeat):
        for backend in runs:
            database = postgres.fresh() if backend == "postgresql" and postgres else None
            folder = tmp / f"serial-{backend}-{i}"
            run = archiver_run(
                folder, inbox, megabytes, workers=1, batch_size=args.batch_size, database=database
            )
            run["model"] = model(run["stage_seconds"], megabytes)
            runs[backend].append(run)
            fitted = run["model"]
            print(
                f"serial {backend} #{i + 1}: {run['wall_seconds']:.1f} s, workers' "
                f"{fitted['worker_seconds']:.2f} s, coordinator's {fitted['coordinator_seconds']:.2f} s",
                flush=True,
            )
    return runs


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run whose coordinator seconds are the median (the lower one of an even count)."""
    ordered = sorted(runs, key=lambda r: r["model"]["coordinator_seconds"])
    return ordered[(len(ordered) - 1) // 2]


def real_runs(args: argparse.Namespace, inbox: Path, megabytes: float, tmp: Path) -> dict[str, Any]:
    """A process pool and a Dask LocalCluster of ``--workers`` processes each, on SQLite."""
    from distributed import Client, LocalCluster

    pool = archiver_run(tmp / "pool", inbox, megabytes, workers=args.workers, batch_size=args.batch_size)
    print(f"process pool of {args.workers}: {pool['wall_seconds']:.1f} s", flush=True)
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        # A cluster's workers outlive a run: their imports are done before it, as a forked pool's are.
        client.run(importlib.import_module, "archiver.stages.process")
        dask = archiver_run(
            tmp / "dask",
            inbox,
            megabytes,
            batch_size=args.batch_size,
            dask_scheduler=cluster.scheduler_address,
        )
    print(f"Dask LocalCluster of {args.workers}: {dask['wall_seconds']:.1f} s", flush=True)
    return {"process_pool": pool, "dask_local_cluster": dask}


def print_report(result: dict[str, Any]) -> None:
    inbox = result["inbox"]
    print(f"\ninbox: {inbox['path']}: {inbox['files']} files, {inbox['megabytes']:.2f} MB")
    print(f"\n{'serial run (median)':34}" + "".join(f"{b:>14}" for b in result["model"]))
    rows = [
        ("workers' s/MB", "worker_seconds_per_mb"),
        ("coordinator's s/MB", "coordinator_seconds_per_mb"),
        ("workers it can feed", "workers_fed"),
    ]
    for label, key in rows:
        print(f"{label:34}" + "".join(f"{m[key]:>14}" for m in result["model"].values()))
    for n in MODELLED:
        print(
            f"{f'modelled MB/s, {n} workers':34}"
            + "".join(f"{m['modelled_mb_per_s'][str(n)]:>14}" for m in result["model"].values())
        )
    for name, run in result.get("real", {}).items():
        print(
            f"{name:34}{run['wall_seconds']:>10.2f} s {run['mb_per_s']:>8.3f} MB/s, coordinator CPU "
            f"{run['coordinator_cpu_seconds']:.2f} s ({run['coordinator_cpu_seconds_per_mb']:.3f} s/MB), "
            f"workers' stages / it {run['workers_fed_by_cpu']}"
        )
    print(f"exports byte-identical: {result['exports_identical']}")
    print(f"\nresults: {result['results_file']}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    outdir = args.inbox or common.make_inbox(
        args.scale, args.seed, args.authorities, args.years, work=args.work_dir, mosaic=args.mosaic
    )
    inbox = outdir / "inbox"
    megabytes = common.inbox_bytes(inbox) / 1e6
    args.work_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="scaleout-", dir=args.work_dir))
    postgres = Postgres(args.database) if args.database else None
    try:
        result: dict[str, Any] = {
            "date": dt.datetime.now().isoformat(timespec="seconds"),
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "inbox": {
                "path": str(outdir),
                "files": sum(1 for p in inbox.rglob("*") if p.is_file()),
                "megabytes": round(megabytes, 3),
            },
            "machine": common.machine_info(),
        }
        result["serial"] = serial_runs(args, inbox, megabytes, tmp, postgres)
        result["model"] = {backend: median_run(runs)["model"] for backend, runs in result["serial"].items()}
        if not args.skip_real:
            result["real"] = real_runs(args, inbox, megabytes, tmp)
        digests = {
            f"{backend} serial #{i + 1}": run["export_sha256"]
            for backend, runs in result["serial"].items()
            for i, run in enumerate(runs)
        } | {name: run["export_sha256"] for name, run in result.get("real", {}).items()}
        result["exports_identical"] = len(set(digests.values())) == 1
        result["export_sha256"] = digests
        which = outdir.name if args.inbox else f"scale{args.scale}-seed{args.seed}"
        which += f"-mosaic{args.mosaic:g}" if args.mosaic and not args.inbox else ""
        name = f"{dt.date.today().isoformat()}-scaleout-{which}.json"
        result["results_file"] = str(args.results_dir / name)
        common.dump_json(args.results_dir / name, result)
        print_report(result)
    finally:
        if postgres:
            postgres.drop()
            postgres.admin.dispose()
        if args.keep:
            print(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if result.get("exports_identical") else 1


if __name__ == "__main__":
    sys.exit(main())
