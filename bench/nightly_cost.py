"""Nightly cost against archive size: the same night of 200 submissions on a 10k and a 1M archive.

    /work/venv/bin/python bench/nightly_cost.py [--sizes 10000,1000000] [--repeat 2] [--workers W]

Issue 5 asks that a night of 200 new submissions take within 1.3× the same time with 10k and
with 1M archived passages. For each size this script

1. files a real *history* (every year-2024 submission of a make_inbox.py inbox of 200
   authorities: ``--scale 10``) with ``archiver.flow.run``, so the night finds real
   cross-year reuse to verify and link;
2. fills the archive up to the size with synthetic rows written directly with SQLAlchemy Core
   (documents, submissions, passages with text cut from the corpus, random uint32 MinHash
   signatures and their band keys from ``fingerprint.band_keys_bulk``, inserted in key order);
3. times ``archiver.flow.run`` on the *night*: 200 year-2025 submissions of the same inbox,
   ``--repeat`` rounds over every archive (round-robin, so the host's noise falls on all
   alike), each night on a fresh copy of the archive in a fresh process (the copy it replaces
   is set aside, not deleted, until every night is timed: ``set_aside`` says why): its wall
   seconds, and its CPU seconds (the process's and its pool workers'), which the other
   processes of a shared host inflate far less than the wall seconds;
4. when the archive holds more band rows than ``[store] recent_band_rows``, also times the
   *steady* night, the one every night is once an archive has outgrown the upper level of
   the band index (its blocks), as the night before leaves it: the blocks hold that night's
   rows (here the history run's) and as many more as make them a night's rows over the limit,
   less half the fullest band (the last night's merge left them under the limit by that on
   average), each band holding rows of the nights since it was last merged (rows of the newest
   synthetic passages moved into blocks), so that the night starts by merging the fullest
   bands into the main level, as many rows as a night adds (what a steady night merges on
   average). It also times a full
   ``archiver compact`` on that state, which no night runs (for the record).

Random signatures never collide with real ones, so the filler adds size (deeper B-trees, bigger
indexes and tables) but no candidates: the night's matching work is the same at both sizes,
which is what the requirement isolates. Caches are warm (the archive was just written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from archiver import config as config_mod
from archiver import flow
from archiver.index import levels
from archiver.index import links as index
from archiver.stages import fingerprint
from archiver.store import bulk, db, search_index

BATCH = 50_000  # passages per insert batch
TRASH = "set-aside"  # old copies of the archive, deleted at the end (``set_aside``)
PER_SUBMISSION = 20  # passages per synthetic submission (the generated inboxes have ≈ 21)


def split_inbox(
    outdir: Path, dest: Path, night_year: int, history_year: int, night_files: int
) -> tuple[Path, Path]:
    """Copy the history year and the first ``night_files`` reports of the night year into two inboxes.

    Copies, not links: ingest does not follow links by default.
    """
    inbox = outdir / "inbox"
    night, history = dest / "night", dest / "history"
    if (dest / "done").is_file():
        return night, history
    shutil.rmtree(dest, ignore_errors=True)
    files = sorted(p for p in inbox.rglob("*") if p.is_file())
    in_year = [p for p in files if p.parent.name == str(night_year) and p.name.startswith(str(night_year))]
    if len(in_year) < night_files:
        raise SystemExit(f"only {len(in_year)} year-{night_year} reports in {inbox}; use a larger --scale")
    for src in in_year[:night_files]:
        _copy(src, night / src.relative_to(inbox))
    for src in files:
        if src.parent.name == str(history_year):
            _copy(src, history / src.relative_to(inbox))
    (dest / "done").write_text("ok\n")
    return night, history


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def corpus_text() -> str:
    """The corpus reports as one run of text without whitespace (the filler's source)."""
    parts = [p.read_text(encoding="utf-8", errors="ignore") for p in sorted(common.CORPUS.glob("*.txt"))]
    return "".join("".join(parts).split())


def _next_id(conn: Connection, table: Any) -> int:
    return int(conn.execute(select(func.max(table.c.id))).scalar() or 0) + 1


def synthesise(url: str, count: int, cfg: config_mod.Config, seed: int = 5) -> dict[str, Any]:
    """Add ``count`` synthetic archived passages (and their submissions, documents, band keys)."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    source = corpus_text()
    engine = db.open_engine(url)
    with Session(engine) as session, session.begin():
        index.pin_parameters(session, fingerprint.parameters(cfg.fingerprint))  # as flow.run does
    tables = {t.name: t for t in db.Base.metadata.sorted_tables}
    keys: list[tuple[int, np.ndarray]] = []  # (first passage id, its batch's (n, bands) band keys)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA synchronous=OFF")
        conn.exec_driver_sql("PRAGMA cache_size=-2000000")  # 2 GB of page cache while synthesising
        # No journal while synthesising (back to WAL below): in WAL mode every page of the
        # filler was written twice, into the log and again at its checkpoint.
        conn.exec_driver_sql("PRAGMA journal_mode=OFF")
        inserted = conn.execute(
            insert(tables["runs"]).values(command="synthesise", tool_version="bench", status="completed")
        ).inserted_primary_key
        run_id = int(inserted[0]) if inserted else 0
        pid, sid, did = (_next_id(conn, tables[n]) for n in ("passages", "submissions", "documents"))
        conn.commit()  # SQLAlchemy 2.0 connections autobegin: one commit per batch below
        for lo in range(0, count, BATCH):
            n = min(BATCH, count - lo)
            keys.append((pid, _batch(conn, tables, rng, source, cfg, n, (pid, sid, did), run_id)))
            conn.commit()
            subs = -(-n // PER_SUBMISSION)
            pid, sid, did = pid + n, sid + subs, did + subs
        rows = _insert_bands(conn, keys)
        _skip_search_index(conn, sid - 1)
        conn.commit()
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")  # the archive's own mode again
    engine.dispose()
    seconds = round(time.perf_counter() - started, 1)
    return {"passages": count, "band_rows": rows, "last_passage_id": pid - 1, "seconds": seconds}


def _skip_search_index(conn: Connection, last_submission: int) -> None:
    """Mark the filler's texts as in the search index without indexing them.

    Trigram-indexing them would take the build about 7 minutes per million passages, and a
    night then indexes only the last run's texts (the history's, at every size): so the night
    does the same search work at every size, into an index that holds the history's texts only.
    """
    meta = db.table(db.Meta)
    conn.execute(delete(meta).where(meta.c.key == search_index.SEARCH_META))
    conn.execute(
        insert(meta).values(key=search_index.SEARCH_META, value={"indexed_through": last_submission})
    )


def _batch(
    conn: Connection,
    tables: dict[str, Any],
    rng: np.random.Generator,
    source: str,
    cfg: config_mod.Config,
    n: int,
    first: tuple[int, int, int],
    run_id: int,
) -> np.ndarray:
    """Insert one batch of documents, submissions and passages; returns their band rows."""
    pid, sid, did = first
    lengths = rng.integers(40, 300, n)
    starts = rng.integers(0, len(source) - 300, n)
    texts = [source[s : s + int(k)] for s, k in zip(starts.tolist(), lengths.tolist(), strict=True)]
    years = rng.integers(2000, 2019, n)
    sub_of = np.arange(n) // PER_SUBMISSION
    docs, subs = [], []
    for j in range(int(sub_of[-1]) + 1):
        body = texts[j * PER_SUBMISSION : (j + 1) * PER_SUBMISSION]
        year, rel = int(years[j * PER_SUBMISSION]), f"synthetic/a{(did + j) % 5000:04d}/{did + j}.txt"
        sha = hashlib.sha512(rel.encode()).hexdigest()
        docs.append(
            {
                "id": did + j,
                "object_id": rel,
                "authority": rel.split("/")[1],
                "year": year,
                "title": body[0][:20],
                "head_version": "v1",
                "head_sha512": sha,
                "current_submission_id": sid + j,
            }
        )
        subs.append(
            {
                "id": sid + j,
                "run_id": run_id,
                "document_id": did + j,
                "relpath": rel,
                "sha512": sha,
                "size": 3 * sum(map(len, body)),
                "status": "archived",
                "reason": None,
                "detail": None,
                "encoding": "utf-8",
                "confidence": 1.0,
                "authority": docs[-1]["authority"],
                "year": year,
                "title": docs[-1]["title"],
                "version": "v1",
                "current": True,
                "cleaned_text": "\n".join(body),
                "report": None,
            }
        )
    conn.execute(insert(tables["documents"]), docs)
    conn.execute(insert(tables["submissions"]), subs)
    sigs = rng.integers(0, 1 << 32, (n, cfg.fingerprint.num_perm), dtype=np.uint32).astype("<u4")
    sig_bytes = [row.tobytes() for row in sigs]
    passages = [
        {
            "id": pid + i,
            "submission_id": sid + int(sub_of[i]),
            "idx": i % PER_SUBMISSION,
            "kind": "para",
            "section_idx": 0,
            "start": None,
            "end": None,
            "text": t,
            "removed": False,
            "exact": hashlib.blake2b(t.encode(), digest_size=16).hexdigest(),
            "chars": len(t),
            "signature": sig_bytes[i],
            "rep_id": pid + i,
            "year": int(years[i]),
            "canonical_id": pid + i,
        }
        for i, t in enumerate(texts)
    ]
    conn.execute(insert(tables["passages"]), passages)
    return fingerprint.band_keys_bulk(sig_bytes, cfg.fingerprint)  # (n, bands) int64


def _insert_bands(conn: Connection, batches: list[tuple[int, np.ndarray]], chunk: int = 1_000_000) -> int:
    """All band rows in primary-key order: appends to the B-tree instead of random inserts.

    A band at a time, so that only the keys (8 bytes a row) are held, not the rows sorted
    whole (24 bytes a row and the sort's index: 10 GB at 10M passages)."""
    if not batches:
        return 0
    ids = np.concatenate([first + np.arange(len(k), dtype=np.int64) for first, k in batches])
    total = 0
    for band in range(batches[0][1].shape[1]):
        keys = np.concatenate([k[:, band] for _, k in batches])
        order = np.lexsort((ids, keys))
        rows = np.column_stack([np.full(len(keys), band, np.int64), keys[order], ids[order]])
        for lo in range(0, len(rows), chunk):
            bulk.insert_tuples(conn, db.table(db.PassageBand), bulk.array_rows(rows[lo : lo + chunk]))
            conn.commit()
        total += len(rows)
    return total


def count_passages(url: str) -> int:
    engine = db.open_engine(url)
    with engine.connect() as conn:
        n = int(conn.execute(text("SELECT count(*) FROM passages")).scalar() or 0)
    engine.dispose()
    return n


def night(
    folder: Path, pristine: Path, night_inbox: Path, in_place: bool = False, cpu_stages: bool = True
) -> dict[str, Any]:
    """One timed night on a fresh copy of the archive in ``pristine`` (``in_place``: on it), in
    a fresh process.

    A fresh process, as the nightly job is: no warm caches (jieba, OpenCC, lru caches) carried
    from the history run or from an earlier night, so the first size measured is not penalised.
    """
    flags = [str(night_inbox), *(["--cpu-stages"] if cpu_stages else [])]
    if in_place:
        return _child(pristine, "--night-child", *flags)
    return _child_on_copy(pristine, folder, "--night-child", *flags)


def _child_on_copy(pristine: Path, folder: Path, flag: str, *args: str) -> dict[str, Any]:
    """Copy ``pristine`` to ``folder`` and run this script's child ``flag`` on the copy in a
    fresh process; returns the JSON the child prints last."""
    set_aside(folder)
    shutil.copytree(pristine, folder)
    return _child(folder, flag, *args)


def _child(folder: Path, flag: str, *args: str) -> dict[str, Any]:
    """Run this script's child ``flag`` on the archive in ``folder`` in a fresh process."""
    os.sync()  # else the copy's dirty pages are written back during the timing, against its fsyncs
    out = subprocess.run(
        [sys.executable, __file__, flag, str(folder), *args], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def set_aside(folder: Path) -> None:
    """Make way for a new copy at ``folder`` without deleting the old copy's files yet.

    Its database files (three inodes, gigabytes) are deleted; the rest (the vault: thousands of
    small files) is moved into ``TRASH`` beside it, deleted once every night is timed. On a
    file system without a journal (ext4 as this VM mounts it), creating a file skips every
    inode deleted in the last 5 s (300 s while its inode-table block is dirty), one lookup
    each, so a night timed right after deleting the last one's vault paid for those deletions:
    4,000 files took 1.0–1.3 s to create after 40,000 were deleted, 0.1 s before.
    """
    if not folder.exists():
        return
    for database_file in folder.glob("archive.sqlite3*"):
        database_file.unlink()
    trash = folder.parent / TRASH
    trash.mkdir(exist_ok=True)
    folder.rename(trash / f"{folder.name}-{len(list(trash.iterdir()))}")


# The modules that time the run's stages, each with ``time.perf_counter`` (``stage_clock``).
TIMING_MODULES = (
    "archiver.flow",
    "archiver.stages.process",
    "archiver.store._objects",
    "archiver.index.links",
    "archiver.index.indexer",
)


class _ThreadClock:
    """``time`` with ``perf_counter`` the calling thread's CPU seconds (``time.thread_time``)."""

    def __getattr__(self, name: str) -> Any:
        return time.thread_time if name == "perf_counter" else getattr(time, name)


def stage_clock(cpu: bool) -> None:
    """With ``cpu``, make the run's stage seconds CPU seconds of the thread that ran the stage.

    The run times its stages with ``time.perf_counter`` (wall seconds): on a shared host a
    stage's seconds then hold the time its process waited for a core, which varies from night
    to night as much as the stage's own work (the same-work ``clean`` stage took 6–15 s in one
    invocation whose nights used 4.6–6.3 CPU-s in all). Every stage runs in one thread (the
    workers' in their main thread, a verify task in the worker that runs it, ``land`` in its
    own), so the thread's CPU seconds are that stage's. Only what the run reports changes; the
    pool's workers are forked (Linux), so they inherit it. The night's own wall and CPU
    seconds are measured around ``flow.run`` as before.
    """
    if not cpu:
        return
    import importlib

    for name in TIMING_MODULES:
        importlib.import_module(name).time = _ThreadClock()  # type: ignore[attr-defined]


def night_child(folder: Path, night_inbox: Path, cpu_stages: bool = False) -> None:
    """Time ``flow.run`` of the night on the archive in ``folder``; print the figures as JSON."""
    stage_clock(cpu_stages)
    cfg = config_mod.load(folder / "config.toml")
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    summary = flow.run(cfg, [night_inbox])
    seconds = time.perf_counter() - started
    # The pool's workers have exited (and been waited for) when flow.run returns.
    cpu = _cpu(resource.RUSAGE_SELF, own) + _cpu(resource.RUSAGE_CHILDREN, workers)
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "cpu_seconds": round(cpu, 2),
                "files": summary.files,
                "passages": summary.passages,
                "links": summary.links,
                "compacted": summary.compacted,
                "recent_rows_after": recent_rows(cfg.database_url),
                "stage_seconds": summary.as_dict()["stage_seconds"],
                "stage_clock": "thread CPU" if cpu_stages else "wall",
            }
        )
    )


def _cpu(who: int, before: resource.struct_rusage) -> float:
    """User and system CPU seconds of ``who`` (``resource.RUSAGE_*``) since ``before``."""
    now = resource.getrusage(who)
    return now.ru_utime - before.ru_utime + now.ru_stime - before.ru_stime


def recent_rows(url: str) -> int:
    """Band rows in the blocks (the upper level), the last runs', not merged yet."""
    engine = db.open_engine(url)
    with Session(engine) as session:
        rows = levels.recent_rows(session)
    engine.dispose()
    return rows


def fill_recent(folder: Path, target: int, newest: int) -> dict[str, Any]:
    """Move band rows of the newest synthetic passages (``newest`` and the ids before it) from
    the main level of the index into blocks (a block a band) until the blocks hold about
    ``target`` rows, the last run's included, spread over the bands
    as a steady stream of nights leaves them: ``levels.compact_if_full`` merges the fullest band
    when a night starts over the limit, so the band merged k nights ago holds k nights of rows. Here band b
    holds a share ∝ b + 1 (band ``bands - 1`` is the fullest). The archive's size is unchanged.
    """
    started = time.perf_counter()
    cfg = config_mod.load(folder / "config.toml")
    url = cfg.database_url
    bands = cfg.fingerprint.bands
    missing = max(target - recent_rows(url), 0)
    engine = db.open_engine(url)
    with engine.begin() as conn:
        for band in range(bands):
            # Synthetic passages have a row in every band: k passages are k rows of a band.
            share = missing * (band + 1) // (bands * (bands + 1) // 2)
            where = f"FROM passage_bands WHERE band = {band} AND passage_id > {newest - share}"
            ordered = f"SELECT band, key, passage_id {where} ORDER BY band, key, passage_id"
            moved = np.array(conn.exec_driver_sql(ordered).all(), dtype=np.int64).reshape(-1, 3)
            levels.write_blocks(conn, moved)
            conn.exec_driver_sql(f"DELETE {where}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return {
        "recent_rows": recent_rows(url),
        "seconds": round(time.perf_counter() - started, 1),
    }


def compact_child(folder: Path) -> None:
    """Time ``archiver compact`` on the archive in ``folder`` (closing included); print JSON."""
    cfg = config_mod.load(folder / "config.toml")
    started = time.perf_counter()
    engine = db.open_engine(cfg.database_url)
    with Session(engine) as session, session.begin():
        moved = levels.compact(session)
    engine.dispose()
    print(json.dumps({"seconds": round(time.perf_counter() - started, 2), "rows": moved}))


def compaction(folder: Path, pristine: Path) -> dict[str, Any]:
    """``archiver compact`` timed on a fresh copy of ``pristine``, in a fresh process."""
    return _child_on_copy(pristine, folder, "--compact-child")


def build(size: int, folder: Path, history: Path, workers: int | None) -> dict[str, Any]:
    """The pristine archive of ``size`` passages in ``folder``: synthetic filler, then the real
    history filed onto it, so that the night indexes the history's texts for search at every
    size (``_skip_search_index``)."""
    config = common.write_config(folder, workers)
    cfg = config_mod.load(config)
    history_passages = count_history(history, cfg)
    filler = synthesise(cfg.database_url, max(size - history_passages, 0), cfg)
    started = time.perf_counter()
    flow.run(cfg, [history])
    hist_seconds = time.perf_counter() - started
    return {
        "history_passages": count_passages(cfg.database_url) - filler["passages"],
        "history_seconds": round(hist_seconds, 1),
        "filler": filler,
        "passages": count_passages(cfg.database_url),
        "db_mb": round(sum(p.stat().st_size for p in folder.glob("archive.sqlite3*")) / 1e6, 1),
    }


HISTORY_PASSAGES = "history-passages.json"  # beside the history inbox: its count, filed once


def count_history(history: Path, cfg: config_mod.Config) -> int:
    """The passages the history files into an empty archive (filed once into a scratch archive,
    remembered beside the inbox), so that the filler brings the archive to the size asked."""
    known = history.parent / HISTORY_PASSAGES
    if known.is_file():
        return int(json.loads(known.read_text())["passages"])
    scratch = Path(tempfile.mkdtemp(prefix="history-", dir=history.parent))
    try:
        scratch_cfg = config_mod.load(common.write_config(scratch, cfg.run.workers or None))
        flow.run(scratch_cfg, [history])
        passages = count_passages(scratch_cfg.database_url)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    known.write_text(json.dumps({"passages": passages}) + "\n")
    return passages


def cfg_url(folder: Path) -> str:
    return config_mod.load(folder / "config.toml").database_url


def summarise(result: dict[str, Any], sizes: list[int]) -> None:
    """The ratios of issue 5: the largest archive's night over the smallest's, with the recent
    level nearly empty (a new or just compacted archive) and in the steady state."""
    small, large = result["sizes"][str(sizes[0])], result["sizes"][str(sizes[-1])]
    if "night_seconds_median" not in small:  # --repeat 0: built, nothing timed
        return
    base = small["night_seconds_median"]
    line = f"night seconds (median): {base}"
    if "night_seconds_median" in large:  # absent with --steady-only
        result["ratio_largest_over_smallest"] = round(large["night_seconds_median"] / base, 3)
        line += f" → {large['night_seconds_median']}; ratio {result['ratio_largest_over_smallest']}"
    cpu = small["night_cpu_seconds_median"]
    if "night_cpu_seconds_median" in large:
        result["cpu_ratio_largest_over_smallest"] = round(large["night_cpu_seconds_median"] / cpu, 3)
    steady = large.get("steady")
    if steady:
        result["ratio_steady"] = round(steady["night_seconds_median"] / base, 3)
        result["cpu_ratio_steady"] = round(steady["night_cpu_seconds_median"] / cpu, 3)
        seconds = steady["night_seconds_median"]
        line += f"; steady state (merges a band): {seconds} s, ratio {result['ratio_steady']}"
        if "compaction" in steady:
            line += f"; a full `archiver compact` (no night runs one) {steady['compaction']['seconds']} s"
    cpu_ratios = [result[k] for k in ("cpu_ratio_largest_over_smallest", "cpu_ratio_steady") if k in result]
    print(line + f" (target ≤ 1.3); CPU seconds (median) {cpu}, ratios {cpu_ratios}")
    # The same ratios of the best nights (each state's minimum), and what the growing stages add.
    for label, other in (("largest", large), ("steady", steady)):
        if other and "night_cpu_seconds_min" in other:
            for figure in ("seconds", "cpu_seconds"):
                best = other[f"night_{figure}_min"] / small[f"night_{figure}_min"]
                result[f"{figure}_ratio_{label}_best"] = round(best, 3)
            added = other["night_growing_stage_seconds_median"] - small["night_growing_stage_seconds_median"]
            result[f"growing_stage_seconds_added_{label}"] = round(added, 2)
            print(
                f"{label}: best-night ratios wall {result[f'seconds_ratio_{label}_best']}, CPU "
                f"{result[f'cpu_seconds_ratio_{label}_best']}; growing stages (verify, compact, file, "
                f"link) {other['night_growing_stage_seconds_median']} s against "
                f"{small['night_growing_stage_seconds_median']} s (medians); the fixed ones "
                f"{other['night_fixed_stage_seconds_min']}–{other['night_fixed_stage_seconds_max']} s "
                f"against {small['night_fixed_stage_seconds_min']}–{small['night_fixed_stage_seconds_max']} s"
            )


# What a night does whatever the archive's size (the same 200 files), and what grows with it: the
# lookups by key in the main level (``verify``: its tasks' seconds, summed over the workers), the
# steady night's band merge (``compact``), and the coordinator's writes into bigger tables and
# indexes (``file``, ``link``). Stage seconds are the run's own (wall seconds of each stage,
# summed over the workers), so they carry the host's noise too: summed separately, they show
# where a night's difference comes from.
GROWING = ("verify", "compact", "file", "link")


def stage_groups(timed: dict[str, Any]) -> dict[str, float]:
    """A night's stage seconds summed into the stages that grow with the archive and the rest."""
    stages: dict[str, float] = timed["stage_seconds"]
    growing = sum(v for k, v in stages.items() if k in GROWING)
    return {"growing": round(growing, 3), "fixed": round(sum(stages.values()) - growing, 3)}


def spread(entry: dict[str, Any]) -> None:
    """Medians, minima and maxima of ``entry``'s nights: wall and CPU seconds, and the stage
    groups (``stage_groups``), each stage's median too. The minimum is the figure the host's
    noise inflates least (other processes only ever add time); none is dropped."""
    nights = entry["nights"]
    figures: dict[str, list[float]] = {
        "seconds": [n["seconds"] for n in nights],
        "cpu_seconds": [n["cpu_seconds"] for n in nights],
        "growing_stage_seconds": [stage_groups(n)["growing"] for n in nights],
        "fixed_stage_seconds": [stage_groups(n)["fixed"] for n in nights],
    }
    for figure, values in figures.items():
        entry[f"night_{figure}_median"] = round(statistics.median(values), 2)
        entry[f"night_{figure}_min"] = round(min(values), 2)
        entry[f"night_{figure}_max"] = round(max(values), 2)
    stages = sorted({k for n in nights for k in n["stage_seconds"]})
    entry["stage_seconds_median"] = {
        k: round(statistics.median(n["stage_seconds"].get(k, 0.0) for n in nights), 3) for k in stages
    }


def reuse(tmp: Path, sizes: list[int], result: dict[str, Any], states: dict[str, Path]) -> None:
    """The states a ``--keep`` run left in ``tmp`` (``archive-SIZE``, ``archive-LARGEST-steady``)."""
    for size in sizes:
        pristine = tmp / f"archive-{size}"
        if size == sizes[-1] and not pristine.is_dir() and (tmp / f"archive-{size}-steady").is_dir():
            # A --steady-only build: the largest archive became its steady state.
            result["sizes"][str(size)] = {"nights": []}
            continue
        url = cfg_url(pristine)
        result["sizes"][str(size)] = {
            "reused": str(pristine),
            "passages": count_passages(url),
            "recent_rows": recent_rows(url),
            "nights": [],
        }
        states[str(size)] = pristine
    steady = tmp / f"archive-{sizes[-1]}-steady"
    if steady.is_dir():
        largest = result["sizes"][str(sizes[-1])]
        largest["steady"] = {"reused": str(steady), "recent_rows": recent_rows(cfg_url(steady)), "nights": []}
        states["steady"] = steady


def build_steady(
    args: argparse.Namespace,
    tmp: Path,
    sizes: list[int],
    states: dict[str, Path],
    result: dict[str, Any],
    night_inbox: Path,
) -> None:
    """The largest archive's steady state (``fill_recent``), when it outgrows the blocks' limit."""
    smallest = states[str(sizes[0])]
    largest = result["sizes"][str(sizes[-1])]
    probe = night(tmp / "night", smallest, night_inbox)  # untimed: how many rows a night adds
    before = result["sizes"][str(sizes[0])]
    night_rows = probe["recent_rows_after"] - before["recent_rows"]
    cap = config_mod.load(smallest / "config.toml").store.recent_band_rows
    if largest["filler"]["band_rows"] > cap:
        # The steady state, as the night before leaves it: its rows in blocks, which put the
        # blocks a night's rows over their limit less half the fullest band (≈ 2 / (bands +
        # 1) of the limit), so that the night merges the fullest bands first, on average a
        # night's rows.
        steady = tmp / f"archive-{sizes[-1]}-steady"
        if args.steady_only:  # too large to copy: the archive itself becomes the steady state
            states.pop(str(sizes[-1])).rename(steady)
        else:
            shutil.copytree(states[str(sizes[-1])], steady)
        over = night_rows - cap // (config_mod.load(smallest / "config.toml").fingerprint.bands + 1)
        filled = fill_recent(steady, cap + max(over, 0), largest["filler"]["last_passage_id"])
        print(f"blocks of the largest filled to {filled['recent_rows']:,} rows ({filled['seconds']} s)")
        largest["steady"] = filled | {"nights": [], "night_rows": night_rows}
        states["steady"] = steady


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--night-child"]:
        night_child(Path(argv[1]), Path(argv[2]), argv[3:] == ["--cpu-stages"])
        return 0
    if argv[:1] == ["--compact-child"]:
        compact_child(Path(argv[1]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,1000000", help="archive sizes in passages, comma-separated")
    ap.add_argument("--scale", type=int, default=10, help="make_inbox.py --scale (10 = 200 authorities)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--night-files", type=int, default=200)
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="nights timed per size (each on a fresh copy); 0: only build (--keep them, time with --reuse)",
    )
    ap.add_argument("--workers", type=int, default=None, help="[run] workers (default: config.toml's)")
    ap.add_argument("--keep", action="store_true", help="keep the archives")
    ap.add_argument(
        "--steady-only",
        action="store_true",
        help="the largest archive: only its steady night, on the archive itself (no copy; --repeat 1)",
    )
    ap.add_argument(
        "--wall-stages",
        action="store_true",
        help="report the stages' wall seconds, as the run does (default: each stage's thread CPU seconds)",
    )
    ap.add_argument(
        "--reuse",
        type=Path,
        default=None,
        help="time the nights on the archives a --keep run left in this folder (its archive-* states)",
    )
    ap.add_argument("--work-dir", type=Path, default=common.WORK)
    ap.add_argument("--results-dir", type=Path, default=common.RESULTS)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.steady_only and args.repeat > 1:
        raise SystemExit("--steady-only times one night on the archive itself: use --repeat 1 (or 0)")
    outdir = common.make_inbox(args.scale, args.seed, work=args.work_dir)
    night_inbox, history = split_inbox(
        outdir, args.work_dir / f"nightly-scale{args.scale}-seed{args.seed}", 2025, 2024, args.night_files
    )
    if args.reuse:
        args.keep = True  # another run's archives: never deleted here
    tmp = args.reuse or Path(tempfile.mkdtemp(prefix="nightly-", dir=args.work_dir))
    result: dict[str, Any] = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": common.machine_info(),
        "sizes": {},
    }
    try:
        # Build every archive first, then time the nights round-robin over them: the host's
        # noise (this is a shared VM; disk write-back after building 2.6 GB) then falls on
        # every state alike instead of on whichever was measured first.
        states: dict[str, Path] = {}
        if args.reuse:
            reuse(tmp, sizes, result, states)
        for size in [] if args.reuse else sizes:
            pristine = tmp / f"archive-{size}"
            built = build(size, pristine, history, args.workers)
            print(
                f"archive of {built['passages']:,} passages ({built['db_mb']} MB): history "
                f"{built['history_seconds']} s, filler {built['filler']['seconds']} s",
                flush=True,
            )
            url = cfg_url(pristine)
            level_sizes = {"recent_rows": recent_rows(url)}
            result["sizes"][str(size)] = built | level_sizes | {"nights": []}
            states[str(size)] = pristine
        largest = result["sizes"][str(sizes[-1])]
        if not args.reuse:  # a reused run's folder has its steady state already
            build_steady(args, tmp, sizes, states, result, night_inbox)
        for round_ in range(args.repeat):
            # Every other round in reverse (ABC CBA …): a drift of the host's speed over the
            # rounds then falls on every state alike, not most on the last of each round.
            ordered = list(states.items())
            for label, folder in ordered[::-1] if round_ % 2 else ordered:
                in_place = args.steady_only and label == "steady"
                timed = night(tmp / "night", folder, night_inbox, in_place, not args.wall_stages)
                entry = largest["steady"] if label == "steady" else result["sizes"][label]
                entry["nights"].append(timed)
                print(
                    f"round {round_ + 1}, {label}: {timed['seconds']} s ({timed['cpu_seconds']} CPU-s), "
                    f"{timed['links']} links, "
                    f"blocks {timed['recent_rows_after']:,} rows after, "
                    f"{timed['compacted']:,} merged, "
                    f"stages {timed['stage_seconds']}",
                    flush=True,
                )
                if label == "steady" and not timed["compacted"]:
                    raise SystemExit("the steady night merged no band: it is not the steady state")
        for entry in [*result["sizes"].values(), largest.get("steady")]:
            if entry and entry["nights"]:
                spread(entry)
        if "steady" in states and not args.steady_only:
            largest["steady"]["compaction"] = compaction(tmp / "night", states["steady"])
            print(f"a full compaction of the steady state: {largest['steady']['compaction']}")
        if not args.keep:
            for folder in states.values():
                shutil.rmtree(folder, ignore_errors=True)
        summarise(result, sizes)
        path = args.results_dir / f"{dt.date.today().isoformat()}-nightly-cost.json"
        common.dump_json(path, result)
        print(f"results: {path}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
