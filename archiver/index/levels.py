"""The levels of the band index (the LSH buckets), like a log-structured merge tree.

A night's band keys are random: inserted straight into a B-tree of tens of millions of rows,
each dirties a page of its own, so a night's writes would grow with the archive. Instead a run's
batches write into ``run_bands``, no bigger than the run itself (on SQLite: ``writing_level``);
``settle`` moves those into ``recent_bands`` in key order at the start of the next run (and now
and then during a long one); and the recent level is merged into the big ``passage_bands`` in
key order. ``compact`` (``archiver compact``) merges all of it; a run merges only as much as
keeps the recent level within ``[store] recent_band_rows``, a band at a time
(``compact_if_full``), so that no single night rewrites the whole main level. A run settles the
last run's rows and merges first thing, while its workers process the first batch
(``flow.run``), so that neither is left for the end of a run, when everything would wait for it.
Every lookup (``index``) reads all levels; a row is in exactly one.
"""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select, true
from sqlalchemy.orm import Session

from archiver.store.db import PassageBand, RecentBand, RunBand, table

Level = type[PassageBand | RecentBand | RunBand]
LEVELS: tuple[Level, ...] = (PassageBand, RecentBand, RunBand)  # main, recent, this run's


def writing_level(dialect: str) -> type[RecentBand | RunBand]:
    """The level a batch's band rows go into on the backend ``dialect``.

    SQLite's run level saves pages: a batch's random keys into the recent level's one B-tree of
    up to a million rows would dirty nearly every page of it at each batch's commit. PostgreSQL
    writes a row to a heap and its index with a log record of its own wherever it lands, so a
    row costs about as much in either tree, and moving it later (``settle``) cost twice what it
    saved: there the rows go into the recent level, the run level stays empty and ``settle``
    finds nothing to move (bench/README.md).
    """
    return RecentBand if dialect == "postgresql" else RunBand


def recent_rows(session: Session) -> int:
    """Band rows in the recent level, not yet merged into the main index."""
    return level_rows(session, RecentBand)


def level_rows(session: Session, level: Level) -> int:
    """Band rows in one level of the index."""
    return int(session.execute(select(func.count()).select_from(level)).scalar_one())


def settle(session: Session) -> int:
    """Move the run level's rows into the recent level, in key order; returns how many.

    At the start of the run after (and during a long one, ``indexer.RUN_LEVEL_SHARE``): each page
    of the recent level is then written once a night, not once per batch.
    """
    return _move(session, RunBand, RecentBand, level_rows(session, RunBand))


def compact(session: Session) -> int:
    """Merge the upper levels into the main index, in key order; returns the rows moved.

    In key order, the merge writes each page of the main B-tree at most once, where the same
    rows inserted night by night would each have dirtied a page of their own.
    """
    settle(session)
    return _move(session, RecentBand, PassageBand, recent_rows(session))


def compact_if_full(session: Session, recent_limit: int) -> int:
    """Merge the recent level's fullest bands into the main one, a band at a time, until it
    holds at most ``recent_limit`` rows; returns the rows moved.

    The main B-tree is ordered by band first, so one band's merge rewrites only that band's
    share of it. Every band gains rows at the same rate, so the fullest band is the one merged
    longest ago: a night that outgrows the limit merges about one band, and the whole main
    level is rewritten over as many nights as there are bands, not on one of them.
    """
    counted = session.execute(select(RecentBand.band, func.count()).group_by(RecentBand.band))
    per_band = {int(band): int(rows) for band, rows in counted}
    held, moved = sum(per_band.values()), 0
    for band, rows in sorted(per_band.items(), key=lambda item: (-item[1], item[0])):
        if held <= recent_limit:
            break
        moved += _move(session, RecentBand, PassageBand, rows, band)
        held -= rows
    return moved


def _move(
    session: Session,
    source: type[RecentBand | RunBand],
    target: type[PassageBand | RecentBand],
    rows: int,
    band: int | None = None,
) -> int:
    """Move the rows of level ``source`` (``rows`` of them, already counted), or of one
    ``band`` of it, into ``target``, in key order."""
    if rows:
        moving = table(source)
        columns = [moving.c.band, moving.c.key, moving.c.passage_id]
        chosen = moving.c.band == band if band is not None else true()
        session.execute(
            insert(table(target)).from_select(
                [c.name for c in columns], select(*columns).where(chosen).order_by(*columns)
            )
        )
        # Without a WHERE clause SQLite drops the whole tree's pages at once.
        session.execute(delete(moving) if band is None else delete(moving).where(chosen))
    return rows
