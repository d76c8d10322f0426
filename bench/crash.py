"""Crash harness: SIGKILL `archiver run`, `compact` and `reindex` at random moments, rerun,
and check that nothing was lost.

Each trial starts from a copy of a prepared archive (or none), starts the command in a process
group of its own, kills the group with SIGKILL after a random delay drawn over the command's
uninterrupted wall time, notes the stage the archive had reached, then finishes the work:

- ``run``: ``archiver run`` again; its export must equal an uninterrupted run's. Half the trials
  are a first night (a new archive), half a second night (an archive of the earlier years,
  then every year: the night that also merges the last run's band blocks).
- ``compact``: ``archiver compact`` again; the export must equal the archive's before.
- ``reindex`` (to another ``[fingerprint] seed``): first ``archiver run`` with the new settings,
  which must either refuse and say to finish ``reindex`` or give a completed reindex's export;
  then ``archiver reindex`` again, whose export must equal an uninterrupted reindex's.

After each trial: ``verify --full`` must pass with no warnings (no staging, orphan or empty
folder left), no run row may be left ``running``, and nothing but the archive's own files may
be in its folder, nor an empty folder in the vault. Stages are named by the durable state
found after the kill (see ``stage_of``). ``--postgres URL`` runs the same with each trial's
database a copy of a template database on that server. Writes ``bench/results/<date>-crash[-postgres].json``.

    python bench/crash.py --inbox DIR --run 50 --compact 10 --reindex 10 [--postgres URL] [--batch-size 4]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from archiver.store.ocfl import STAGING

OWN_FILES = {
    "archive.sqlite3",
    "archive.sqlite3-wal",
    "archive.sqlite3-shm",
    "config.toml",
    "objects",
    "logs",
}


@dataclass
class Trial:
    command: str
    scenario: str
    delay: float
    stage: str = ""
    killed: bool = True
    export_equal: bool = False
    verify_ok: bool = False
    verify_warnings: int = 0
    running_rows: int = 0
    strays: list[str] = field(default_factory=list)
    run_after_kill: str = ""  # reindex trials: "refused", "equal" or "differs"
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.export_equal
            and self.verify_ok
            and not self.verify_warnings
            and not self.running_rows
            and not self.strays
            and self.run_after_kill in ("", "refused", "equal")
        )


class Store:
    """Where trial archives live: a folder each, and (``--postgres``) a database each, copied
    from a template database."""

    def __init__(self, work: Path, postgres: str | None, batch_size: int) -> None:
        self.work = work
        self.postgres = postgres
        self.batch_size = batch_size
        self.admin = create_engine(postgres, isolation_level="AUTOCOMMIT") if postgres else None
        self.count = 0

    def database(self, name: str) -> str | None:
        if not self.postgres:
            return None
        return make_url(self.postgres).set(database=name).render_as_string(hide_password=False)

    def create(self, name: str, template: str | None = None) -> None:
        if self.admin is None:
            return
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            copy = f' TEMPLATE "{template}"' if template else ""
            connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))

    def drop(self, name: str) -> None:
        if self.admin is not None:
            with self.admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def folder(self, name: str, template: str | None, seed: int | None = None) -> tuple[Path, Path]:
        """A new archive folder (a copy of ``template``'s) and its config; with ``seed`` the
        config sets that ``[fingerprint] seed``."""
        folder = self.work / name
        shutil.rmtree(folder, ignore_errors=True)
        if template:
            shutil.copytree(self.work / template, folder, ignore=shutil.ignore_patterns("config.toml"))
            self.create(f"crash_{name}", f"crash_{template}")
        else:
            self.create(f"crash_{name}")
        config = common.write_config(
            folder, workers=2, batch_size=self.batch_size, database=self.database(f"crash_{name}")
        )
        if seed is not None:
            config.write_text(
                common._set_key(config.read_text("utf-8"), "fingerprint", "seed", str(seed)), "utf-8"
            )
        return folder, config


def archiver(config: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*common.ARCHIVER, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=config.parent,
    )


def must(result: subprocess.CompletedProcess[str]) -> str:
    if result.returncode != 0:
        raise SystemExit(f"{result.args}: exit {result.returncode}\n{result.stderr[-2000:]}")
    return result.stdout


def timed(config: Path, *args: str) -> float:
    started = time.perf_counter()
    must(archiver(config, *args))
    return time.perf_counter() - started


def killed_after(config: Path, args: list[str], delay: float) -> float | None:
    """Start ``archiver ARGS`` in a process group of its own, SIGKILL the group after ``delay``
    seconds; None when killed, else the seconds it took to finish first."""
    started = time.perf_counter()
    with subprocess.Popen(
        [*common.ARCHIVER, "--config", str(config), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=config.parent,
        start_new_session=True,
    ) as proc:
        try:
            proc.wait(timeout=delay)
            return time.perf_counter() - started
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return None


def export(config: Path) -> bytes:
    out = config.parent / "export.jsonl"
    must(archiver(config, "export", "-o", str(out)))
    data = out.read_bytes()
    out.unlink()
    return data


def _engine(config: Path, store: Store, name: str) -> Any:
    url = store.database(f"crash_{name}") or f"sqlite:///{config.parent / 'archive.sqlite3'}"
    return create_engine(url)


def state(config: Path, store: Store, name: str) -> dict[str, Any]:
    """What the archive durably holds: run rows by command and status, documents, objects."""
    objects = sum(1 for _ in (config.parent / "objects").glob("*/*/*/*/0=ocfl_object_1.1"))
    engine = _engine(config, store, name)
    try:
        with engine.connect() as connection:
            runs = connection.execute(text("SELECT command, status FROM runs ORDER BY id")).all()
            documents = connection.execute(text("SELECT count(*) FROM documents")).scalar_one()
    except Exception:  # no schema yet: killed before the migration finished
        runs, documents = [], 0
    finally:
        engine.dispose()
    return {"runs": [tuple(r) for r in runs], "documents": documents, "objects": objects}


def stage_of(command: str, before: dict[str, Any], after: dict[str, Any], total: int, share: float) -> str:
    """The stage a killed command had reached, from what it left durably (for ``compact``,
    which writes no run row, from the share of its uninterrupted time)."""
    new_runs = after["runs"][len(before["runs"]) :]
    quarter = min(int(share * 4), 3) * 25
    if command == "compact":
        return f"{quarter}-{quarter + 25}% of its time"
    if not new_runs:
        return "start (lock, migration, listing)"
    status = new_runs[-1][1]
    if status not in ("running", "interrupted"):
        return f"after the end ({status})"
    if command != "run":
        return f"rebuilding, {quarter}-{quarter + 25}% of its time"
    if after["objects"] > after["documents"]:
        return "vault ahead of the database (workers, filing)"
    if after["documents"] == before["documents"]:
        return "listing, first batch, settling"
    if after["documents"] < total:
        return "filing and linking"
    return "the end (last link, final commit)"


def leftovers(folder: Path) -> list[str]:
    """What is in an archive's folder that is not the archive: anything beside its own files,
    temporary files, and empty folders in the vault (a layout folder made for an object that
    never landed; the staging area itself may be empty)."""
    found = [p.name for p in folder.iterdir() if p.name not in OWN_FILES]
    found += [str(p.relative_to(folder)) for p in folder.rglob("*.tmp")]
    vault = folder / "objects"
    found += [
        f"{p.relative_to(folder)}/ (empty)"
        for p in vault.rglob("*")
        if p.is_dir() and p != vault / STAGING and not any(p.iterdir())
    ]
    return found


def check(trial: Trial, config: Path, store: Store, name: str, reference: bytes) -> None:
    trial.export_equal = export(config) == reference
    verified = archiver(config, "verify", "--full", "--json")
    try:
        report = json.loads(verified.stdout)
        trial.verify_ok = verified.returncode == 0 and report["ok"]
        trial.verify_warnings = len(report["warnings"])
        trial.messages += report["problems"][:5] + report["warnings"][:5]
    except ValueError:
        trial.messages.append(verified.stderr.strip()[-300:])
    trial.running_rows = sum(status == "running" for _c, status in state(config, store, name)["runs"])
    trial.strays = leftovers(config.parent)


def partial_inbox(inbox: Path, target: Path) -> Path:
    """The inbox without its latest year: the archive a second night starts from."""
    years = sorted({p.name for p in inbox.glob("*/*") if p.is_dir()})
    shutil.rmtree(target, ignore_errors=True)
    for path in inbox.rglob("*"):
        if path.is_file() and path.relative_to(inbox).parts[1] != years[-1]:
            (target / path.relative_to(inbox)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / path.relative_to(inbox))
    return target


def summary(
    trials: list[Trial], args: argparse.Namespace, inbox: Path, total: int, seconds: dict[str, float]
) -> dict[str, Any]:
    """The report so far, written to its JSON file (after every trial: a long bench that is
    stopped keeps what it has measured)."""
    by_stage: dict[str, Counter[str]] = defaultdict(Counter)
    for t in trials:
        by_stage[t.command][t.stage] += 1
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": "postgresql" if args.postgres else "sqlite",
        "inbox": str(inbox),
        "files": total,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "uninterrupted_seconds": {k: round(v, 2) for k, v in seconds.items()},
        "trials": len(trials),
        "by_command": dict(Counter(t.command for t in trials)),
        "by_stage": {c: dict(s) for c, s in by_stage.items()},
        "exports_differing": sum(not t.export_equal for t in trials),
        "verify_failures": sum(not t.verify_ok for t in trials),
        "verify_warnings": sum(t.verify_warnings > 0 for t in trials),
        "runs_left_running": sum(t.running_rows for t in trials),
        "trials_with_stray_files": sum(bool(t.strays) for t in trials),
        "reindex_then_run": dict(Counter(t.run_after_kill for t in trials if t.command == "reindex")),
        "failed_trials": sum(not t.ok for t in trials),
        "machine": common.machine_info(),
        "detail": [asdict(t) | {"ok": t.ok} for t in trials],
    }
    suffix = "-postgres" if args.postgres else ""
    out = args.out or common.RESULTS / f"{datetime.now(UTC):%Y-%m-%d}-crash{suffix}.json"
    common.dump_json(out, report)
    return report


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inbox", type=Path, help="an inbox folder (default: make_inbox.py --authorities 4)")
    parser.add_argument("--run", type=int, default=50, help="run trials")
    parser.add_argument("--compact", type=int, default=10, help="compact trials")
    parser.add_argument("--reindex", type=int, default=10, help="reindex trials")
    parser.add_argument("--postgres", help="a PostgreSQL URL: trial databases are made on that server")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=4,
        help="[run] batch_size: small, so that a run commits many batches and kills land between them",
    )
    parser.add_argument("--work", type=Path, default=common.WORK / "crash")
    parser.add_argument(
        "--out", type=Path, help="the JSON report (default: bench/results/<date>-crash….json)"
    )
    args = parser.parse_args(argv)
    inbox = (args.inbox or common.make_inbox(1, 7, authorities=4, years="2021-2024") / "inbox").resolve()
    total = sum(1 for p in inbox.rglob("*") if p.is_file() and not p.name.startswith("."))
    rng = random.Random(args.seed)
    store = Store(args.work, args.postgres, args.batch_size)
    args.work.mkdir(parents=True, exist_ok=True)
    early = partial_inbox(inbox, args.work / "inbox-early")

    # References: uninterrupted first night, second night, compaction and reindex.
    _, first = store.folder("ref-first", None)
    seconds = {"first": timed(first, "run", str(inbox))}
    _, base = store.folder("base-second", None)
    must(archiver(base, "run", str(early)))
    _, second = store.folder("ref-second", "base-second")
    seconds["second"] = timed(second, "run", str(inbox))
    refs = {"first": export(first), "second": export(second)}
    # Starting Python and importing takes seconds of every command: kills are drawn after most
    # of it, so that they fall on the work.
    startup = 0.8 * timed(first, "runs")
    _, compacted = store.folder("ref-compact", "ref-first")
    seconds["compact"] = timed(compacted, "compact")
    _, reindexed = store.folder("ref-reindex", "ref-first", seed=2)
    seconds["reindex"] = timed(reindexed, "reindex")
    refs["reindex"] = export(reindexed)

    trials: list[Trial] = []
    plan = [("run", i) for i in range(args.run)] + [("compact", i) for i in range(args.compact)]
    plan += [("reindex", i) for i in range(args.reindex)]
    for command, i in plan:
        name = f"trial-{command}-{i}"
        if command == "run":
            scenario = "first" if i % 2 == 0 else "second"
            folder, config = store.folder(name, None if scenario == "first" else "base-second")
            args_ = ["run", str(inbox)]
            reference = refs[scenario]
        elif command == "compact":
            scenario, (folder, config) = "built", store.folder(name, "ref-first")
            args_, reference = ["compact"], refs["first"]
        else:
            scenario, (folder, config) = "built", store.folder(name, "ref-first", seed=2)
            args_, reference = ["reindex"], refs["reindex"]
        whole = seconds[scenario if command == "run" else command]
        trial = Trial(command, scenario, round(rng.uniform(min(startup, whole / 2), whole), 3))
        before = state(config, store, name)
        finished = killed_after(config, args_, trial.delay)
        trial.killed = finished is None
        if finished is not None:  # the host got faster since the reference: draw from less time
            seconds[scenario if command == "run" else command] = finished
        trial.stage = stage_of(command, before, state(config, store, name), total, trial.delay / whole)
        if command == "reindex":
            ran = archiver(config, "run", str(inbox))
            said = (ran.stderr + ran.stdout).lower()
            if ran.returncode != 0 and "reindex" in said:
                trial.run_after_kill = "refused"
            else:
                trial.run_after_kill = "equal" if export(config) == reference else "differs"
        rerun = archiver(config, *args_)
        if rerun.returncode != 0:
            trial.messages.append(f"rerun exit {rerun.returncode}: {rerun.stderr.strip()[-300:]}")
        check(trial, config, store, name, reference)
        trials.append(trial)
        print(
            f"{command:8} {scenario:6} {trial.delay:6.2f}s {'ok ' if trial.ok else 'BAD'} {trial.stage}",
            *trial.messages[:2],
            flush=True,
        )
        shutil.rmtree(folder, ignore_errors=True)
        store.drop(f"crash_{name}")
        summary(trials, args, inbox, total, seconds)

    report = summary(trials, args, inbox, total, seconds)
    print(
        json.dumps(
            {k: v for k, v in report.items() if k not in ("detail", "machine")}, ensure_ascii=False, indent=1
        )
    )
    for name in ("ref-first", "base-second", "ref-second", "ref-compact", "ref-reindex"):
        store.drop(f"crash_{name}")
    return report


if __name__ == "__main__":
    main()
