"""Writing the cross-submission index: the one way ``run``, ``reindex`` and ``compact`` do it.

``Indexer.add`` indexes a batch of new paragraphs: it links them (``links.link``, the candidates
verified on the run's executor), which brings the canonical passages of their stars up to date
too (``_stars.canonical_updates``). ``merge`` and ``compact`` look after the levels of the band
index (``levels``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from archiver.config import Config
from archiver.index import levels, links
from archiver.index._stars import Known
from archiver.records import LinkStats, NewParagraph
from archiver.store import db

# A run merges blocks into the main level whenever the band rows it added since its last merge
# are more than this share of [store] recent_band_rows. A night of 200 reports, with its anchor
# rows (bench/README.md, nightly cost), stays under it: its blocks wait for the next run's start,
# where merging them is hidden behind the workers' first batch, instead of being merged after
# its last batch, when the whole run waits for it. A backlog of millions then costs what a series
# of nights does, and the blocks a worker holds stay within the limit and this share of it.
RUN_LEVEL_SHARE = 4


@dataclass
class Indexer:
    """The index of one writing command's session."""

    session: Session
    config: Config
    stage_seconds: dict[str, float] = field(default_factory=dict)  # link, compact
    unmerged: int = 0  # band rows added as blocks since the last merge
    executor: Executor | None = None  # where candidates are verified (None: in this process)
    _waited: float = 0.0  # seconds of the current ``add`` spent verifying
    known: Known = field(default_factory=Known)  # the stars as this session wrote them

    def __post_init__(self) -> None:
        # What ``known`` noted of a batch rolled back is no longer true.
        event.listen(self.session, "after_soft_rollback", self._forget)

    def _forget(self, *_: object) -> None:
        self.known.clear()

    def add(
        self,
        paragraphs: Sequence[NewParagraph],
        firsts: Mapping[int, int] | None = None,
        file_passages: links.FilePassages | None = None,
    ) -> LinkStats:
        """Index a batch of new paragraphs (in id order), in the caller's transaction; ``firsts``:
        the first passage id of each of their submissions, where the caller knows them;
        ``file_passages``: ``links.link``'s, timed as the stage ``file``."""
        started = time.perf_counter()
        self._waited = 0.0
        filing = self._filing(file_passages) if file_passages is not None else None
        stats = links.link(
            self.session,
            paragraphs,
            self.config.fingerprint,
            self.config.match,
            self._verify_all,
            firsts,
            filing,
            self.known,
        )
        self.unmerged += stats.band_rows
        self._took("link", started + self._waited)
        return stats

    def _filing(self, file_passages: links.FilePassages) -> links.FilePassages:
        """``file_passages`` with its time counted as the stage ``file``, not ``link``."""

        def timed(groups: dict[int, tuple[int, int | None]]) -> None:
            started = time.perf_counter()
            file_passages(groups)
            self._took("file", started)
            self._waited += time.perf_counter() - started

        return timed

    def _verify_all(self, lookups: Sequence[links.Lookup], connection: Connection) -> list[links.Found]:
        """Look up and judge the candidates on the executor (in this process without one,
        reading through ``connection``; a worker reads through its own engine). Their own time,
        looking the candidates up and reading the earlier passages included, is the stage
        ``verify``, a worker's; the link stage, the coordinator's, leaves out the time it waits
        for them."""
        started = time.perf_counter()
        fingerprint, match = self.config.fingerprint, self.config.match
        if self.executor is None:
            results = links.find_here(lookups, connection, fingerprint, match)
        else:
            url = self.config.database_url
            futures = [
                self.executor.submit(links.find_and_verify_stored, lookup, fingerprint, match, url)
                for lookup in lookups
            ]
            results = [future.result() for future in futures]
        self._waited += time.perf_counter() - started
        self.stage_seconds["verify"] = self.stage_seconds.get("verify", 0.0) + sum(r.seconds for r in results)
        return results

    def merge_due(self) -> bool:
        """Whether the blocks added since the last merge have outgrown their share of ``[store]
        recent_band_rows``."""
        return self.unmerged > self.config.store.recent_band_rows // RUN_LEVEL_SHARE

    def merge(self) -> int:
        """Merge from the blocks into the main level what keeps them within ``[store]
        recent_band_rows``; returns the rows merged.

        Between batches, committed on its own: no lookup task reads meanwhile. Between runs the
        blocks hold at most ``recent_band_rows`` rows and ``recent_band_rows / RUN_LEVEL_SHARE``
        and a batch's.
        """
        started = time.perf_counter()
        with self.session.begin():
            merged = levels.compact_if_full(self.session, self.config.store.recent_band_rows)
        self.unmerged = 0
        if merged:  # its pages are written back now, not in the run's last commit
            with self.session.begin():
                db.write_back(self.session)
        self._took("compact", started)
        return merged

    def compact(self) -> int:
        """Merge every level into the main one, in the caller's transaction; returns the rows moved."""
        return levels.compact(self.session)

    def _took(self, stage: str, started: float) -> None:
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + time.perf_counter() - started
