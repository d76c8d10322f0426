"""The band index's upper level as a process holds it (``levels.UpperLevel``), against the plain
form: every row of the blocks held, filtered by a scan."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert

from archiver.index import levels
from archiver.store import db

# Ids on both sides of 2³¹, so that the held int32 columns must widen (exactly) when one no
# longer fits; passage ids stay below 2³², as the index's pairs require.
ID = st.one_of(st.integers(1, 60), st.integers(2**31 - 3, 2**31 + 3), st.integers(2**32 - 60, 2**32 - 1))
ROW = st.tuples(st.integers(0, 2), st.integers(-3, 3), ID)  # band, key, passage id
BLOCK = st.tuples(st.integers(0, 2), st.lists(st.tuples(st.integers(-3, 3), ID), min_size=1, max_size=8))


@settings(max_examples=80, deadline=None)
@given(
    blocks=st.lists(BLOCK, min_size=1, max_size=8),
    block_ids=st.lists(ID, min_size=8, max_size=8, unique=True),
    lives=st.lists(st.lists(st.integers(0, 7), max_size=8), min_size=1, max_size=4),
    wanted=st.lists(st.tuples(st.integers(0, 2), st.integers(-3, 3)), min_size=1, max_size=12, unique=True),
    before=st.one_of(st.integers(1, 61), st.integers(2**31 - 3, 2**31 + 4), st.just(2**32)),
)
def test_the_rows_held_are_those_of_the_live_blocks(
    blocks: list[tuple[int, list[tuple[int, int]]]],
    block_ids: list[int],
    lives: list[list[int]],
    wanted: list[tuple[int, int]],
    before: int,
) -> None:
    """Refreshed to one set of live blocks after another (blocks dropped, blocks added), the
    level finds exactly the rows of the live blocks in the buckets asked for."""
    stored = {block_ids[i]: (band, sorted(set(pairs))) for i, (band, pairs) in enumerate(blocks)}
    keys = np.array(sorted(wanted), dtype=np.int64)
    upper = levels.UpperLevel("scope")
    largest = 0  # of every id held so far: the columns widen once, and stay wide
    with tempfile.TemporaryDirectory() as folder:
        engine = db.open_engine(f"sqlite:///{Path(folder) / 'archive.sqlite3'}")
        with engine.begin() as connection:
            for id_, (band, pairs) in stored.items():
                rows = np.array([(band, k, p) for k, p in pairs], dtype=np.int64)
                connection.execute(
                    insert(db.table(db.BandBlock)).values(
                        id=id_,
                        band=band,
                        rows=len(rows),
                        first_passage=int(rows[:, 2].min()),
                        last_passage=int(rows[:, 2].max()),
                        data=levels.encode(rows),
                    )
                )
            for chosen in lives:
                live = frozenset(block_ids[i] for i in chosen if block_ids[i] in stored)
                upper.refresh(connection, live)
                found = upper.rows_in(keys, before)
                plain = sorted(
                    (band, k, p)
                    for id_ in live
                    for band, pairs in [stored[id_]]
                    for k, p in pairs
                    if (band, k) in set(wanted) and p < before
                )
                assert found.dtype == np.int64
                assert sorted(map(tuple, found.tolist())) == plain
                assert upper.ids == live
                largest = max([largest, *live, *(p for id_ in live for _, p in stored[id_][1])])
                if largest < 2**31:  # narrow while every id fits
                    assert all(h.passages.dtype == h.blocks.dtype == np.int32 for h in upper.bands.values())
        engine.dispose()
