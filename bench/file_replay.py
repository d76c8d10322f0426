"""The coordinator's ``file`` stage alone: captured from a serial run, replayed on a fresh archive.

    python bench/file_replay.py capture --inbox OUTDIR CAPTURE      # a make_inbox.py folder
    python bench/file_replay.py replay CAPTURE [--database postgresql+psycopg://…] [--repeat R]

``capture`` runs ``archiver run`` with ``workers = 1`` on a fresh SQLite archive in a temporary
folder and pickles, batch by batch, what ``filing.file_batch`` was given and the groups the
linker gave ``filing.file_passages``. ``replay`` files those batches again on a fresh archive
(SQLite in a temporary folder, or a database ``<name>_replay`` beside the one named, created and
dropped here): per batch ``file_batch``, ``notes.note_batch`` and ``file_passages`` in one
transaction, as a run does, without the linker's rows. It prints, per repetition, this process's
CPU and wall seconds of each (``file_*`` is their sum: the run's stage ``file``), each table's
insert, the commits, and on PostgreSQL the server process's CPU seconds of each insert (from
``/proc/<pid>/schedstat``: the server is on this machine). CPU seconds, not wall: on a shared
host a serial run's wall-clock stage seconds move with the load.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from sqlalchemy.orm import Session

from archiver import flow, notes
from archiver.config import IngestConfig
from archiver.store import db, filing

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PARTS = ("file_batch", "note_batch", "file_passages", "commit")  # the stage "file" is all but the commit


def capture(inbox: Path, out: Path) -> None:
    from archiver.cli import main

    with tempfile.TemporaryDirectory() as folder, out.open("wb") as handle:
        config = common.write_config(Path(folder), workers=1)
        pending: list[Any] = []
        file_batch, file_passages = flow.file_batch, flow.file_passages

        def batch(session: Any, run_id: int, stored: Any) -> Any:
            pending[:] = [list(stored)]
            return file_batch(session, run_id, stored)

        def passages(session: Any, rows: Any, groups: Any) -> None:
            pickle.dump((pending[0], dict(groups)), handle, protocol=5)
            file_passages(session, rows, groups)

        flow.file_batch, flow.file_passages = batch, passages  # type: ignore[assignment]
        try:
            main(["--config", str(config), "run", str(inbox / "inbox")], standalone_mode=False)
        finally:
            flow.file_batch, flow.file_passages = file_batch, file_passages


def batches(path: Path) -> Iterator[tuple[list[Any], dict[int, tuple[int, int | None]]]]:
    with path.open("rb") as handle:
        while True:
            try:
                yield pickle.load(handle)
            except EOFError:
                return


def _pg(command: str, *args: str) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", str(PG_BIN / command), "-h", "127.0.0.1", "-p", "55432", *args],
        check=True,
        capture_output=True,
    )


def replay(path: Path, database: str | None) -> dict[str, float]:
    seconds: dict[str, float] = defaultdict(float)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/archive.sqlite3"
        if database is not None:
            name = database.rsplit("/", 1)[1] + "_replay"
            _pg("dropdb", "--if-exists", name)
            _pg("createdb", name)
            url = database.rsplit("/", 1)[0] + "/" + name
        engine = db.open_engine(url)
        server: list[int] = []
        insert_tuples = filing.insert_tuples

        def server_cpu() -> float:
            return int(Path(f"/proc/{server[0]}/schedstat").read_text().split()[0]) / 1e9 if server else 0.0

        def timed_insert(connection: Any, target: Any, rows: Any, columns: Any = None) -> None:
            s0, c0, w0 = server_cpu(), time.process_time(), time.perf_counter()
            insert_tuples(connection, target, rows, columns)
            seconds[f"insert_{target.name}_cpu"] += time.process_time() - c0
            seconds[f"insert_{target.name}_wall"] += time.perf_counter() - w0
            if server:
                seconds[f"insert_{target.name}_server_cpu"] += server_cpu() - s0

        filing.insert_tuples = timed_insert  # type: ignore[assignment]
        try:
            with Session(engine) as session, flow.collector_for_a_run():
                with session.begin():
                    run = db.Run(command="run", tool_version="replay")
                    session.add(run)
                    session.flush()
                    if database is not None:
                        server.append(
                            session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
                        )
                ingest = IngestConfig()
                for stored, groups in batches(path):
                    with session.begin():
                        marks = [(time.process_time(), time.perf_counter())]
                        filed = filing.file_batch(session, run.id, stored)
                        marks.append((time.process_time(), time.perf_counter()))
                        notes.note_batch(session, run.id, stored, ingest)
                        marks.append((time.process_time(), time.perf_counter()))
                        filing.file_passages(session, filed.passages, groups)
                        marks.append((time.process_time(), time.perf_counter()))
                    marks.append((time.process_time(), time.perf_counter()))
                    for part, (a, b) in zip(PARTS, itertools.pairwise(marks), strict=True):
                        seconds[f"{part}_cpu"] += b[0] - a[0]
                        seconds[f"{part}_wall"] += b[1] - a[1]
        finally:
            filing.insert_tuples = insert_tuples
            engine.dispose()
            if database is not None:
                _pg("dropdb", name)
    for kind in ("cpu", "wall"):
        seconds[f"file_{kind}"] = sum(
            seconds[f"{p}_{kind}"] for p in ("file_batch", "note_batch", "file_passages")
        )
    return {key: round(value, 3) for key, value in sorted(seconds.items())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    cap = sub.add_parser("capture")
    cap.add_argument("--inbox", type=Path, required=True, help="a make_inbox.py output folder")
    cap.add_argument("capture", type=Path)
    rep = sub.add_parser("replay")
    rep.add_argument("capture", type=Path)
    rep.add_argument("--database", help="a PostgreSQL URL: replay on <name>_replay beside it")
    rep.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    if args.command == "capture":
        capture(args.inbox, args.capture)
        return 0
    for _ in range(args.repeat):
        print(json.dumps(replay(args.capture, args.database)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
