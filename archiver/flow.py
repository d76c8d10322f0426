"""The one place the stages are connected.

Workers run the per-submission stages (``process.process_located``) through a
``concurrent.futures.Executor``: a process pool by default, in-process when ``workers = 1``,
or a Dask cluster's executor. The coordinator keeps a bounded window of submissions in flight,
and files results strictly in listing order, one database transaction per batch, so a parallel
run writes exactly what a serial run writes.
"""

from __future__ import annotations

import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver import __version__, db, fingerprint, index, ingest
from archiver.config import Config
from archiver.db import Document, Run
from archiver.filing import file_outcome
from archiver.process import Outcome, Unchanged, process_located
from archiver.records import Processed, Rejection
from archiver.vault import Vault

Progress = Callable[[int], None]


@dataclass
class RunSummary:
    run_id: int = 0
    files: int = 0
    bytes: int = 0
    new: int = 0  # documents seen for the first time
    new_versions: int = 0  # a changed file at a known place
    unchanged: int = 0
    archived: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    repeats_removed: int = 0
    repeats_warned: int = 0
    passages: int = 0
    links: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stage_seconds"] = {k: round(v, 3) for k, v in sorted(self.stage_seconds.items())}
        data["seconds"] = round(self.seconds, 3)
        return data

    def lines(self) -> list[str]:
        rejected = ", ".join(f"{n} {reason}" for reason, n in sorted(self.rejected.items())) or "none"
        return [
            f"run {self.run_id}: {self.files} files, {self.bytes / 1e6:.2f} MB in {self.seconds:.1f} s",
            f"  new {self.new}, new versions {self.new_versions}, unchanged {self.unchanged}",
            f"  archived {self.archived}, rejected {sum(self.rejected.values())} ({rejected})",
            f"  passages {self.passages}, repeats removed {self.repeats_removed}, "
            f"warned {self.repeats_warned}, cross links {self.links}",
        ]


@contextmanager
def executor_for(config: Config) -> Iterator[Executor | None]:
    """The executor of ``[run]``; None means run in this process."""
    workers = config.run.workers or os.cpu_count() or 1
    if config.run.executor == "dask":
        from distributed import Client  # optional extra: pip install 'archiver[dask]'

        with Client(config.run.dask_scheduler or None) as client:
            yield client.get_executor()
    elif workers == 1:
        yield None
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            yield pool


def run(config: Config, inboxes: Sequence[Path], progress: Progress | None = None) -> RunSummary:
    """Archive every file under ``inboxes``; returns the summary. Raises ArchiverError."""
    started = time.perf_counter()
    engine = db.open_engine(config.database_url)
    vault = Vault(config.resolve(config.store.vault))
    summary = RunSummary()
    with Session(engine, expire_on_commit=False) as session:
        with session.begin():
            index.pin_parameters(session, fingerprint.parameters(config.fingerprint))
            run_row = Run(command="run", tool_version=__version__)
            session.add(run_row)
        summary.run_id = run_row.id
        located = ingest.locate(inboxes, config.ingest)
        with executor_for(config) as executor:
            for batch in _batches(session, located, config, executor):
                with session.begin():
                    _file_batch(session, vault, summary, batch, config)
                if progress:
                    progress(len(batch))
        with session.begin():
            summary.seconds = time.perf_counter() - started
            run_row.status, run_row.finished, run_row.summary = "completed", db.utcnow(), summary.as_dict()
    engine.dispose()
    return summary


def _batches(
    session: Session, located: Iterable[ingest.Located], config: Config, executor: Executor | None
) -> Iterator[list[Outcome]]:
    """Outcomes in listing order, a batch at a time, with the next batch already in flight."""
    size = config.run.batch_size
    pending: deque[list[Future[Outcome]] | list[Outcome]] = deque()
    for chunk in _chunked(located, size):
        known = _known_heads(session, [loc.relpath for loc in chunk])
        tasks = [(loc, known.get(loc.relpath)) for loc in chunk]
        if executor is None:
            pending.append([process_located(loc, config, sha) for loc, sha in tasks])
        else:
            pending.append([executor.submit(process_located, loc, config, sha) for loc, sha in tasks])
        if len(pending) > 1:
            yield _resolve(pending.popleft())
    while pending:
        yield _resolve(pending.popleft())


def _resolve(batch: list[Future[Outcome]] | list[Outcome]) -> list[Outcome]:
    return [item.result() if isinstance(item, Future) else item for item in batch]


def _chunked(items: Iterable[ingest.Located], size: int) -> Iterator[list[ingest.Located]]:
    chunk: list[ingest.Located] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _known_heads(session: Session, relpaths: list[str]) -> dict[str, str]:
    with session.begin():  # runs between batches, outside their transactions
        rows = session.execute(
            select(Document.object_id, Document.head_sha512).where(Document.object_id.in_(relpaths))
        ).all()
    return {object_id: sha for object_id, sha in rows if sha}


def _file_batch(
    session: Session, vault: Vault, summary: RunSummary, batch: list[Outcome], config: Config
) -> None:
    paragraphs: list[index.NewParagraph] = []
    for outcome in batch:
        summary.files += 1
        if isinstance(outcome, Unchanged):
            summary.unchanged += 1
            summary.bytes += outcome.size
            continue
        summary.bytes += len(outcome.submission.raw)
        filed = file_outcome(session, vault, summary.run_id, outcome, config)
        summary.new += filed.new_document
        summary.new_versions += filed.new_version
        if isinstance(outcome, Rejection):
            summary.rejected[outcome.reason] = summary.rejected.get(outcome.reason, 0) + 1
            continue
        _count(summary, outcome)
        paragraphs.extend(filed.paragraphs)
    started = time.perf_counter()
    stats, touched = index.link(session, paragraphs, config.fingerprint, config.match)
    index.assign_canonicals(session, touched)
    summary.links += stats.links
    summary.stage_seconds["link"] = summary.stage_seconds.get("link", 0.0) + time.perf_counter() - started


def _count(summary: RunSummary, outcome: Processed) -> None:
    summary.archived += 1
    summary.passages += len(outcome.passages)
    removed = Counter(r.removed for r in outcome.repeats)
    summary.repeats_removed += removed[True]
    summary.repeats_warned += removed[False]
    for stage, seconds in outcome.timings.items():
        summary.stage_seconds[stage] = summary.stage_seconds.get(stage, 0.0) + seconds
