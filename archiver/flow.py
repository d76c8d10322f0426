"""The one place the stages are connected.

Workers run the per-submission stages (``process.process_located``) through a
``concurrent.futures.Executor``: a process pool by default, in-process when ``workers = 1``,
or a Dask cluster's executor. The coordinator keeps a bounded window of submissions in flight,
and files results strictly in listing order, one database transaction per batch, so a parallel
run writes exactly what a serial run writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import logging
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from archiver import notes, runlog
from archiver._schedule import Schedule
from archiver.config import Config
from archiver.errors import ConfigError, StoreError, describe
from archiver.index import links as index
from archiver.index.indexer import Indexer
from archiver.records import Processed, Rejection, Result, RunSummary, Stored, Unchanged
from archiver.reindex import refuse_if_pending
from archiver.stages import fingerprint, ingest
from archiver.store import db, search_index
from archiver.store.db import EventRow
from archiver.store.filing import Archived, archived_documents_of, file_batch, file_passages
from archiver.store.guard import store_paths
from archiver.store.runs import recorded
from archiver.store.vault import Staged, Vault, Writer
from archiver.store.worker import Chunk, process_chunk

Progress = Callable[[int], None]
TASK_SIZE = 8  # files per worker task (and per group commit to the vault)
# Batches handed to the workers before the first is filed: while the coordinator files and links
# one, the workers process the next ones (their results wait, at most this many batches of them).
BATCHES_AHEAD = 4
REJECTED_SHOWN = 10  # rejected files the summary names (the log and `runs show` name all)
# The cyclic garbage collector's thresholds during a run (Python's default: 700, 10, 10).
RUN_GC_THRESHOLDS = (20_000, 50, 50)
# The process pool's pipes, widened from Linux's 64 KiB to a size that holds a few whole results.
PIPE_BYTES = 1 << 20


@contextmanager
def collector_for_a_run() -> Iterator[None]:
    """Python's cyclic garbage collector set for a run, and put back as it was afterwards.

    A run allocates millions of small objects (changes, passages, rows, results) and frees
    nearly all of them by reference counting; cycles are rare. At the default thresholds the
    collector ran every 700 allocations, and each older collection walked the hundreds of
    thousands of objects the imports made (SQLAlchemy, numpy, the pinyin tables). Those are
    frozen (``gc.freeze``: never walked again, and their pages stay shared with the forked
    workers), and the young generation is collected about 30 times less often. The workers a
    run forks inherit the setting. It saves collector time a run spends for nothing (bench/HISTORY.md).
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*RUN_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def freeze_for_exit() -> None:
    """For a process that is about to end (the command-line entry points, never ``run``): freeze
    every object the cyclic garbage collector tracks, so that the interpreter's collections at
    exit skip them instead of walking everything the imports and a run leave behind (bench/HISTORY.md).
    The memory goes back to the system with the process; reference counting still frees what it
    can on the way out.
    """
    gc.freeze()


@contextmanager
def executor_for(config: Config) -> Iterator[Schedule | None]:
    """The executor of ``[run]``, scheduled (``Schedule``); None means run in this process."""
    workers = config.run.workers or os.cpu_count() or 1
    if config.run.executor == "dask":
        with _dask_client(config.run.dask_scheduler) as client:
            threads = sum(client.nthreads().values())  # a cluster still starting counts as one
            with Schedule(client.get_executor(), threads) as schedule:
                yield schedule
    elif workers == 1:
        yield None
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            # The pool forks its workers at its first task: from this thread, then, and not from
            # the schedule's, while this one may hold a lock (SQLite's) the children would inherit.
            pool.submit(int).result()
            _widen_pipes(pool)
            with Schedule(pool, workers) as schedule:
                yield schedule


def _widen_pipes(pool: ProcessPoolExecutor) -> None:
    """Give the pool's result and call pipes ``PIPE_BYTES`` (Linux; elsewhere nothing changes).

    A chunk's results are a few hundred KB. Through a 64 KiB pipe a worker's write waits until
    the coordinator's reading thread has drained every 64 KiB, and that thread needs the
    interpreter lock between reads, which the coordinator's main thread holds while it files and
    links: each refill waits up to a switch interval, and the worker waits with it. In a wide
    pipe the worker's write returns at once and the reader takes a result in one read.
    """
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:
        return
    for queue in (getattr(pool, "_result_queue", None), getattr(pool, "_call_queue", None)):
        writer = getattr(queue, "_writer", None)
        with contextlib.suppress(AttributeError, OSError, ValueError):  # EPERM over pipe-max-size
            fcntl.fcntl(writer.fileno(), set_size, PIPE_BYTES)  # type: ignore[union-attr]


def _dask_client(address: str) -> Any:
    """A Dask client of the scheduler at ``address`` (empty: a local cluster of its own).

    Raises ConfigError, naming ``[run]``, when distributed is not installed or the scheduler
    cannot be reached (distributed gives up after its connect timeout, 30 s by default).
    """
    try:
        from distributed import Client  # optional extra: pip install 'archiver[dask]'
    except ImportError as exc:
        raise ConfigError(
            "[run] executor = 'dask' needs the distributed package: pip install 'archiver[dask]', "
            "or set executor = 'process'"
        ) from exc
    try:
        # distributed ships no annotations for Client; its executor is a concurrent.futures one.
        return Client(address or None)  # type: ignore[no-untyped-call]
    except (OSError, ValueError) as exc:
        what = f"reach the Dask scheduler at {address}" if address else "start a local Dask cluster"
        raise ConfigError(
            f"cannot {what}: {' '.join(str(exc).split())}; "
            "check that it runs and [run] dask_scheduler in config.toml"
        ) from exc


def run(config: Config, inboxes: Sequence[Path], progress: Progress | None = None) -> RunSummary:
    """Archive every file under ``inboxes``; returns the summary. Raises ArchiverError."""
    with collector_for_a_run():
        try:
            return _run(config, inboxes, progress)
        except (OSError, SQLAlchemyError) as exc:
            raise StoreError(
                f"the run stopped: {_failure(exc, config)}; free space on the store or make it writable, "
                "then run again (what was not finished is done again, nothing half-written is kept)"
            ) from exc


def _failure(exc: BaseException, config: Config) -> str:
    """One line on what stopped a run, never with SQL parameters (passages of submitted text)
    or a traceback: the OS's message and file, or the database driver's own message."""
    if isinstance(exc, SQLAlchemyError):
        return f"database {db.shown(config.database_url)}: {db.reason(exc)}"
    if isinstance(exc, OSError):
        return describe(exc)
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


def _run(config: Config, inboxes: Sequence[Path], progress: Progress | None) -> RunSummary:
    started, cpu_started = time.perf_counter(), time.process_time()
    ingest.check_inboxes(inboxes)  # before the archive is created: a wrong inbox creates nothing

    def pin(session: Session) -> None:
        refuse_if_pending(session)
        index.pin_parameters(session, fingerprint.parameters(config.fingerprint))

    with recorded(config, "run", create=True, first=pin) as recording:
        # The coordinator clears what crashed writers left before any worker writes to the
        # vault; workers never sweep (objects.worker_vault).
        recording.vault.clear_staging()
        run_id = recording.run.id
        with runlog.kept(runlog.logs_folder(config) / f"run-{run_id}.log"):
            runlog.event(
                logging.INFO,
                "started",
                f"run {run_id} started: {', '.join(map(str, inboxes))}",
                run=run_id,
                inboxes=[str(p) for p in inboxes],
            )
            try:
                summary = _run_batches(config, inboxes, progress, recording.session, run_id, recording.vault)
            except BaseException as exc:
                why = _failure(exc, config)
                runlog.event(logging.ERROR, "failed", f"run {run_id} failed: {why}", run=run_id)
                raise
            summary.seconds = time.perf_counter() - started
            summary.cpu_seconds = time.process_time() - cpu_started
            recording.summary = summary.as_dict()
            _log_end(summary)
    return summary


def _run_batches(
    config: Config,
    inboxes: Sequence[Path],
    progress: Progress | None,
    session: Session,
    run_id: int,
    vault: Vault,
) -> RunSummary:
    summary = RunSummary(run_id=run_id)
    lost: dict[str, Known] = {}  # known documents whose object is missing: processed and stored again
    indexer = Indexer(session, config, summary.stage_seconds)
    listed: dict[str, Path] = {}  # relpath → its inbox, for every file of the run
    located = _first_of_each_path(
        ingest.locate(inboxes, config.ingest, store_paths(config)), session, summary, listed
    )
    # The workers that write the vault through this kernel into its file system (a process
    # pool's, this process, a Dask worker on this machine) stage their group commits and the
    # coordinator lands them, once a batch (``Vault.land``: a barrier, the renames, a barrier).
    # A worker elsewhere lands its own.
    lander = vault.writer()
    try:
        with executor_for(config) as executor, ThreadPoolExecutor(1, "archiver-land") as landings:
            indexer.executor = executor
            # The merge the last run's band blocks call for is done while the workers process
            # the first batch: the coordinator has nothing else to do then. At the end of a run,
            # merging would be the last thing everything waits for, so a run leaves its own
            # blocks for the next one.
            # The search index catches up with the last run's texts then too (audit.search).
            first_wait = partial(_first_wait, session, indexer, summary)
            batches = _batches(session, located, config, executor, first_wait, (vault, lost), lander)
            for batch, staged, documents in batches:
                with session.begin():
                    # The batch's versions are put in place and made durable while it is
                    # filed, and before its rows are committed.
                    landing = landings.submit(_land, vault, staged) if staged else None
                    kept = _restored(session, summary, batch, lost)
                    _file_batch(session, summary, kept, config, indexer, documents)
                    if landing is not None:
                        _add_time(summary, "land", landing.result())
                if indexer.merge_due():
                    _merge(indexer, summary)
                if progress:
                    progress(len(batch))
    except BaseException:
        if config.run.executor != "dask":
            # The pool has ended: what its workers staged for batches never landed goes now
            # (nothing refers to it; the next run would sweep it anyway). A Dask cluster's
            # workers may still be writing: their stages wait for that sweep.
            vault.clear_staging()
        raise
    with session.begin():
        summary.withdrawn, summary.returned = notes.note_missing(
            session, run_id, listed, config.ingest.on_missing
        )
    return summary


def _first_of_each_path(
    located: Iterable[ingest.Located], session: Session, summary: RunSummary, first_root: dict[str, Path]
) -> Iterator[ingest.Located]:
    """``located`` without the files whose path (their document's id) an earlier inbox of the
    run already gave: archived too, each would become a new version of the other's document
    at every run. Each one skipped is counted and written to the run's events with both paths;
    the file itself is left where it is, untouched. ``first_root`` collects relpath → inbox."""
    for found in located:
        earlier = first_root.setdefault(found.relpath, found.root)
        if earlier == found.root:
            yield found
            continue
        summary.files += 1
        summary.clashes += 1
        detail = {"relpath": found.relpath, "inbox": str(found.root), "first_inbox": str(earlier)}
        runlog.event(
            logging.WARNING,
            "skipped_path_clash",
            f"skipped {found.root / found.relpath}: {found.relpath} is also in {earlier}, archived from it",
            **detail,
        )
        with session.begin():
            session.add(
                EventRow(run_id=summary.run_id, submission_id=None, kind="skipped_path_clash", detail=detail)
            )


def _batches(
    session: Session,
    located: Iterable[ingest.Located],
    config: Config,
    executor: Schedule | None,
    first_wait: Callable[[], None],
    lost: tuple[Vault, dict[str, Known]],
    lander: Writer | None = None,
) -> Iterator[tuple[list[Result], list[Staged], Archived]]:
    """Results in listing order, a batch at a time, with the next ones already in flight
    (``BATCHES_AHEAD``; in this process, the next one), the group commits the batch's chunks
    staged for the caller to land (``Vault.land``): those of the workers whose writer is
    ``lander`` (``process_chunk``); the others landed their own; and the batch's documents
    already archived (``_known_heads``), for ``filing.file_batch``.

    A batch goes to the workers in chunks of ``TASK_SIZE`` files: each chunk is one task and one
    group commit to the vault, fed to the executor behind the index's lookups (``Schedule``).
    ``first_wait`` runs once, when the first batches are in flight and nothing is ready yet (or
    at the end, when there was nothing to process). A known file whose object is missing from
    the vault is processed as if new, and noted in ``lost``.
    """
    vault, missing = lost
    ahead = 2 if executor is None else BATCHES_AHEAD
    pending: deque[tuple[list[Future[Chunk]] | list[Chunk], Archived]] = deque()
    waited = False
    for batch in _chunked(located, config.run.batch_size):
        known, documents = _known_heads(session, [loc.relpath for loc in batch])
        missing.update((relpath, head) for relpath, head in known.items() if not vault.holds(relpath))
        heads = {relpath: head.sha512 for relpath, head in known.items() if relpath not in missing}
        tasks = [(loc, heads.get(loc.relpath)) for loc in batch]
        chunks = [tasks[i : i + TASK_SIZE] for i in range(0, len(tasks), TASK_SIZE)]
        if executor is None:
            pending.append(([process_chunk(chunk, config, lander=lander) for chunk in chunks], documents))
        else:
            fed = [executor.feed(process_chunk, chunk, config, lander=lander) for chunk in chunks]
            pending.append((fed, documents))
        if len(pending) >= ahead:
            if not waited:
                first_wait()
                waited = True
            yield _resolved(*pending.popleft())
    if not waited:
        first_wait()
    while pending:
        yield _resolved(*pending.popleft())


def _land(vault: Vault, staged: list[Staged]) -> float:
    """Land a batch's staged group commits (``Vault.land``); the seconds it took."""
    started = time.perf_counter()
    vault.land(staged)
    return time.perf_counter() - started


def _resolved(
    batch: list[Future[Chunk]] | list[Chunk], documents: Archived
) -> tuple[list[Result], list[Staged], Archived]:
    return (*_resolve(batch), documents)


def _resolve(batch: list[Future[Chunk]] | list[Chunk]) -> tuple[list[Result], list[Staged]]:
    chunks = [item.result() if isinstance(item, Future) else item for item in batch]
    return [r for chunk in chunks for r in chunk.results], [c.staged for c in chunks if c.staged is not None]


def _chunked(items: Iterable[ingest.Located], size: int) -> Iterator[list[ingest.Located]]:
    chunk: list[ingest.Located] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(frozen=True)
class Known:
    sha512: str
    version: str | None


def _known_heads(session: Session, relpaths: list[str]) -> tuple[dict[str, Known], Archived]:
    """The heads of the documents ``relpaths`` already archived, and the documents themselves
    for ``filing.file_batch`` (``filing.archived_documents_of``): read once, for the workers and the filing.
    A document's row changes only when its own batch is filed, and a run files a path once
    (``_first_of_each_path``), so what is read here before the batch is processed still holds
    when it is filed."""
    with session.begin():  # runs between batches, outside their transactions
        documents = archived_documents_of(session, relpaths)
    heads = {path: Known(sha, version) for path, (_, _, sha, version) in documents.items() if sha}
    return heads, documents


def _restored(
    session: Session, summary: RunSummary, batch: list[Result], lost: dict[str, Known]
) -> list[Result]:
    """``batch`` without the objects just stored again exactly as the database has them (their rows
    are there already); each one restored is counted and recorded as an event. A restored object
    whose database head was a later version is filed as a new submission of its document."""
    kept: list[Result] = []
    for result in batch:
        if isinstance(result, Unchanged):
            kept.append(result)
            continue
        relpath = result.outcome.submission.relpath
        known = lost.pop(relpath, None)
        if known is None or result.outcome.submission.sha512 != known.sha512:
            kept.append(result)
            continue
        summary.restored += 1
        session.add(
            EventRow(
                run_id=summary.run_id,
                submission_id=None,
                kind="restored",
                detail={"object": relpath, "version": result.version, "database_head": known.version},
            )
        )
        if result.version != known.version:
            kept.append(result)
        else:
            summary.files += 1
            summary.bytes += result.size
            summary.unchanged += 1
    return kept


def _first_wait(session: Session, indexer: Indexer, summary: RunSummary) -> None:
    _merge(indexer, summary)
    started = time.perf_counter()
    with session.begin():
        search_index.catch_up(session)
    summary.stage_seconds["search"] = summary.stage_seconds.get("search", 0.0) + time.perf_counter() - started


def _merge(indexer: Indexer, summary: RunSummary) -> None:
    merged = indexer.merge()
    summary.compacted += merged
    if merged:
        message = f"merged {merged} band rows into the main level of the index"
        runlog.event(logging.INFO, "band_merge", message, rows=merged)


def _file_batch(
    session: Session,
    summary: RunSummary,
    batch: list[Result],
    config: Config,
    indexer: Indexer,
    documents: Archived | None = None,
) -> None:
    """File and index one batch (``documents``: its archived ones, for ``filing.file_batch``)."""
    stored: list[Stored] = []
    for result in batch:
        summary.files += 1
        summary.bytes += result.size
        if isinstance(result, Unchanged):
            summary.unchanged += 1
            continue
        stored.append(result)
        _add_time(summary, "archive", result.archive_seconds)
        if isinstance(result.outcome, Rejection):
            _reject(summary, result.outcome)
        else:
            _count(summary, result.outcome)
        if result.version != "v1":
            relpath = result.outcome.submission.relpath
            runlog.event(
                logging.INFO,
                "new_version",
                f"new version {result.version} of {relpath}",
                path=relpath,
                version=result.version,
            )
    started = time.perf_counter()
    filed = file_batch(session, summary.run_id, stored, documents)
    noted = notes.note_batch(session, summary.run_id, stored, config.ingest)
    summary.layout_problems += noted["layout"]
    summary.identical += noted["identical"]
    summary.new += filed.new_documents
    summary.new_versions += filed.new_versions
    _add_time(summary, "file", time.perf_counter() - started)
    write = partial(file_passages, session, filed.passages)
    summary.links += indexer.add(filed.paragraphs, filed.first_passage_ids, write).links


def _add_time(summary: RunSummary, stage: str, seconds: float) -> None:
    summary.stage_seconds[stage] = summary.stage_seconds.get(stage, 0.0) + seconds


def _reject(summary: RunSummary, rejection: Rejection) -> None:
    reason, relpath = rejection.reason, rejection.submission.relpath
    summary.rejected[reason] = summary.rejected.get(reason, 0) + 1
    if len(summary.rejected_files) < REJECTED_SHOWN:
        summary.rejected_files.append(f"{relpath} ({reason})")
    runlog.event(
        logging.WARNING,
        "rejected",
        f"rejected {relpath}: {reason} ({rejection.detail})",
        path=relpath,
        reason=reason,
        detail=rejection.detail,
    )


def _log_end(summary: RunSummary) -> None:
    """One line per class of warnings the run's files got, then the summary's figures."""
    for kind, files in sorted(summary.warned.items()):
        shown = summary.warned_files[kind]
        see = f"see `archiver runs show {summary.run_id}`"
        runlog.event(
            logging.INFO,
            "warnings",
            f"{files} file{'s' if files > 1 else ''} warned of {kind}: {runlog.names(shown, files, see)}",
            kind=kind,
            files=files,
            paths=shown,
        )
    runlog.event(
        logging.INFO,
        "completed",
        "; ".join(line.strip() for line in summary.lines()),
        **{k: v for k, v in summary.as_dict().items() if k != "stage_seconds"},
    )


def _count(summary: RunSummary, outcome: Processed) -> None:
    summary.archived += 1
    for kind in sorted({w.kind for w in outcome.warnings}):
        summary.warned[kind] = summary.warned.get(kind, 0) + 1
        shown = summary.warned_files.setdefault(kind, [])
        if len(shown) < runlog.SHOWN_NAMES:
            shown.append(outcome.submission.relpath)
    summary.passages += len(outcome.passages)
    removed = Counter(r.removed for r in outcome.repeats)
    summary.repeats_removed += removed[True]
    summary.repeats_warned += removed[False]
    for stage, seconds in outcome.timings.items():
        summary.stage_seconds[stage] = summary.stage_seconds.get(stage, 0.0) + seconds
