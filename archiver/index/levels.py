"""The levels of the band index (the LSH buckets), like a log-structured merge tree.

A night's band keys are random: inserted straight into a B-tree of tens of millions of rows,
each dirties a page of its own, so a night's writes would grow with the archive. Instead each
batch writes its rows as **blocks** (``band_blocks``): one row per band, that band's rows of the
batch as one array sorted by (key, passage id), written once in the batch's transaction and
never changed (``write_blocks``). The blocks are the upper level; the main level is the B-tree
``passage_bands``. A merge reads a band's blocks, sorts their rows together and inserts them
into the main level in key order, so each of its pages is written at most once, and deletes
the blocks, in one transaction. ``compact`` (``archiver compact``) merges every band; a run
merges only as many bands, fullest first, as keep the blocks within ``[store]
recent_band_rows`` (``compact_if_full``), so that no single night rewrites the whole main level.
A run merges first thing, while its workers process the first batch (``flow.run``), and during
a long run whenever its own rows outgrow a share of the limit (``indexer.Indexer.merge_due``):
between batches only, never while a batch's lookups run.

Every lookup (``links.held_rows``) reads both levels: the main one by SQL, the blocks from the
copies its process keeps (``UpperLevel``); a row is in exactly one of them. A worker holds at
most the blocks' rows, 16 bytes each (``[store] recent_band_rows`` plus what a run adds
before its next merge).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from archiver.index import _buckets as buckets
from archiver.store.bulk import chunks, fetch_sql, insert_array, insert_tuples
from archiver.store.db import BandBlock, PassageBand, table

BLOCK_DTYPE = np.dtype("<i8")  # (key, passage id) pairs, the same on every machine
BLOCK_COLUMNS = ("band", "rows", "first_passage", "last_passage", "data")


def encode(rows: npt.NDArray[np.int64]) -> bytes:
    """A block's ``data``: the (key, passage id) columns of one band's ``rows`` (band, key,
    passage id), sorted by the caller."""
    return np.ascontiguousarray(rows[:, 1:3], dtype=BLOCK_DTYPE).tobytes()


def decode(data: bytes) -> npt.NDArray[np.int64]:
    """The (key, passage id) rows of a block's ``data``: on a little-endian machine a read-only
    view of ``data``, not a copy (a worker reads a million rows at once into its copy)."""
    return np.frombuffer(data, dtype=BLOCK_DTYPE).reshape(-1, 2).astype(np.int64, copy=False)


def write_blocks(connection: Connection, rows: npt.NDArray[np.int64]) -> None:
    """Add ``rows`` (band, key, passage id; sorted like the index) as one block per band."""
    if not len(rows):
        return
    # Through the driver (a binary COPY on PostgreSQL): one statement a batch, not one a band.
    blocks = [
        (int(band), len(part), int(part[:, 2].min()), int(part[:, 2].max()), encode(part))
        for band, part in buckets.by_band(rows)
    ]
    insert_tuples(connection, table(BandBlock), blocks, BLOCK_COLUMNS)


def recent_rows(session: Session) -> int:
    """Band rows in the blocks, not yet merged into the main index."""
    return int(session.execute(select(func.coalesce(func.sum(BandBlock.rows), 0))).scalar_one())


def main_rows(session: Session) -> int:
    """Band rows in the main level."""
    return int(session.execute(select(func.count()).select_from(PassageBand)).scalar_one())


def compact(session: Session) -> int:
    """Merge every block into the main index, band by band in key order; returns the rows moved.

    In key order, the merge writes each page of the main B-tree at most once, where the same
    rows inserted night by night would each have dirtied a page of their own.
    """
    bands = session.execute(select(BandBlock.band).distinct()).scalars()
    return sum(_merge(session, int(band)) for band in sorted(bands))


def compact_if_full(session: Session, recent_limit: int) -> int:
    """Merge the blocks' fullest bands into the main level, a band at a time, until they hold
    at most ``recent_limit`` rows; returns the rows moved.

    The main B-tree is ordered by band first, so one band's merge rewrites only that band's
    share of it. Every band gains rows at the same rate, so the fullest band is the one merged
    longest ago: a night that outgrows the limit merges about one band, and the whole main
    level is rewritten over as many nights as there are bands, not on one of them.
    """
    counted = session.execute(select(BandBlock.band, func.sum(BandBlock.rows)).group_by(BandBlock.band))
    per_band = {int(band): int(rows) for band, rows in counted}
    held, moved = sum(per_band.values()), 0
    for band, rows in sorted(per_band.items(), key=lambda item: (-item[1], item[0])):
        if held <= recent_limit:
            break
        moved += _merge(session, band)
        held -= rows
    return moved


def _merge(session: Session, band: int) -> int:
    """Move the rows of ``band``'s blocks into the main level, in key order; returns how many."""
    connection = session.connection()
    blocks = connection.execute(select(BandBlock.id, BandBlock.data).where(BandBlock.band == band)).all()
    if not blocks:
        return 0
    pairs = np.concatenate([decode(data) for _, data in blocks])
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    rows = np.column_stack([np.full(len(pairs), band, dtype=np.int64), pairs])
    insert_array(connection, table(PassageBand), rows)
    for part in chunks([int(id_) for id_, _ in blocks]):
        connection.execute(delete(BandBlock).where(BandBlock.id.in_(part)))
    return len(rows)


def block_ids(connection: Connection) -> frozenset[int]:
    """The ids of the blocks there are, as ``connection`` sees them."""
    listed = fetch_sql(connection, f"SELECT id FROM {BandBlock.__tablename__}")
    return frozenset(int(id_) for (id_,) in listed)


@dataclass
class _Band:
    """One band's rows of every block a process holds, sorted by key, with the block each came
    from. Passage and block ids are held as int32 while they fit (``_ids``): 16 bytes a row
    instead of 24, in every worker."""

    keys: npt.NDArray[np.int64]
    passages: npt.NDArray[np.signedinteger]
    blocks: npt.NDArray[np.signedinteger]


def _empty_band() -> _Band:
    return _Band(np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.int32))


_INT32_MAX = int(np.iinfo(np.int32).max)


def _ids(held: npt.NDArray[np.signedinteger], added: npt.NDArray[np.int64]) -> npt.DTypeLike:
    """The narrowest of int32 and int64 that holds every id of ``held`` and ``added`` exactly
    (ids are positive; an archive past 2³¹ passages or blocks falls back to int64)."""
    largest = max(int(held.max(initial=0)), int(added.max(initial=0)))
    return np.int32 if largest <= _INT32_MAX else np.int64


@dataclass
class UpperLevel:
    """The blocks one process has read for one scope (a writing session, ``links.run_token``).

    Blocks never change, so once read a block is kept until it is gone (merged); ``refresh``
    reads only the new ones. Block ids only grow within an archive, and a scope is one
    session's, of one archive."""

    scope: str
    ids: frozenset[int] = frozenset()
    bands: dict[int, _Band] = field(default_factory=dict)

    def refresh(self, connection: Connection, live: frozenset[int]) -> None:
        """Hold exactly the blocks ``live``: drop the others, read the new ones through
        ``connection`` (a block deleted meanwhile is left out: the caller sees ``live`` changed)."""
        gone, new = self.ids - live, sorted(live - self.ids)
        read: dict[int, list[tuple[int, npt.NDArray[np.int64]]]] = {}
        for part in chunks(new):
            listed = ",".join(map(str, part))
            sql = f"SELECT id, band, data FROM {BandBlock.__tablename__} WHERE id IN ({listed})"
            for id_, band, data in fetch_sql(connection, sql):
                read.setdefault(int(band), []).append((int(id_), decode(bytes(data))))
        dropped = np.array(sorted(gone), dtype=np.int64)
        ids = (self.ids - gone) | {id_ for added in read.values() for id_, _ in added}
        for band in set(read) | {b for b, held in self.bands.items() if np.isin(held.blocks, dropped).any()}:
            held = self.bands.get(band, _empty_band())
            kept = ~np.isin(held.blocks, dropped)
            keys, passages, blocks = held.keys[kept], held.passages[kept], held.blocks[kept]
            added = read.pop(band, [])  # its blocks' bytes freed once held: not all read at once
            if added:  # inserted where they sort: a batch's rows into the held ones, no sort of those
                new_keys = np.concatenate([pairs[:, 0] for _, pairs in added])
                order = np.argsort(new_keys, kind="stable")
                at = np.searchsorted(keys, new_keys[order])
                new_passages = np.concatenate([pairs[:, 1] for _, pairs in added])[order]
                new_blocks = np.concatenate([np.full(len(pairs), id_, np.int64) for id_, pairs in added])[
                    order
                ]
                keys = np.insert(keys, at, new_keys[order])
                # np.insert casts the new values to the held array's type: widen first if needed.
                passages = np.insert(
                    passages.astype(_ids(passages, new_passages), copy=False), at, new_passages
                )
                blocks = np.insert(blocks.astype(_ids(blocks, new_blocks), copy=False), at, new_blocks)
            self.bands[band] = _Band(keys, passages, blocks)
        self.ids = ids  # once every band holds its rows

    def rows_in(self, keys: npt.NDArray[np.int64], before: int) -> npt.NDArray[np.int64]:
        """(band, key, passage id) of the rows held in the buckets ``keys`` (band, key; sorted
        by band) of passages before ``before``: a binary search of each band's keys."""
        found: list[npt.NDArray[np.int64]] = []
        for band, part in buckets.by_band(keys):
            held = self.bands.get(band)
            if held is None or not len(held.keys):
                continue
            low = np.searchsorted(held.keys, part[:, 1], "left")
            count = np.searchsorted(held.keys, part[:, 1], "right") - low
            at = buckets.ranges(low, count)
            passages = held.passages[at].astype(np.int64)
            kept = passages < before
            at, passages = at[kept], passages[kept]
            found.append(np.column_stack([np.full(len(at), band), held.keys[at], passages]))
        return np.concatenate(found) if found else np.empty((0, 3), np.int64)


_held: UpperLevel | None = None
_held_lock = threading.Lock()  # a Dask worker may run tasks in threads


def upper_rows(
    connection: Connection, scope: str, live: frozenset[int], keys: npt.NDArray[np.int64], before: int
) -> npt.NDArray[np.int64]:
    """``UpperLevel.rows_in`` of this process's copy of the blocks ``live`` for ``scope`` (one
    scope at a time, like ``verify.earlier_texts``' memory), brought up to date through
    ``connection`` first."""
    global _held
    with _held_lock:
        if _held is None or _held.scope != scope:
            _held = UpperLevel(scope)
        if _held.ids != live:
            _held.refresh(connection, live)
        return _held.rows_in(keys, before)
