"""The spans' storage (``index.spans``: span packs, migration 0013): what is packed is what a
row a region held, each region under both its passages, and the migration packs and unpacks an
archive's rows the same way."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from archiver.index import spans
from archiver.stages import verify
from archiver.store import db

ids = st.integers(1, 40)
offsets = st.integers(0, 2**31 - 1)
span_rows = st.lists(st.tuples(ids, ids, offsets, offsets, offsets, offsets, offsets, offsets), max_size=60)


def _plain(rows: list[tuple[int, ...]]) -> dict[int, Counter[tuple[int, ...]]]:
    """Each passage's regions seen from its side, as a row a region would give them."""
    out: dict[int, Counter[tuple[int, ...]]] = {}
    for passage, other, start, end, other_start, other_end, matched, longest in rows:
        out.setdefault(passage, Counter())[(other, start, end, other_start, other_end, matched, longest)] += 1
        out.setdefault(other, Counter())[(passage, other_start, other_end, start, end, matched, longest)] += 1
    return out


@settings(max_examples=200, deadline=None)
@given(span_rows)
def test_a_pack_holds_every_region_of_its_passage_from_its_side(rows: list[tuple[int, ...]]) -> None:
    packed = spans.packs(verify.int_rows(rows, 8))
    keys = [key for key, _ in packed]
    assert keys == sorted(set(keys))
    assert {key: Counter(map(tuple, spans.unpacked(data).tolist())) for key, data in packed} == _plain(rows)


def test_a_value_beyond_int32_is_refused_not_wrapped() -> None:
    with pytest.raises(ValueError, match="int32"):
        spans.packs(verify.int_rows([(2, 1, 0, 2**31, 0, 5, 5, 5)], 8))


def _alembic(connection: object) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


COLUMNS = '"passage_id", "other_id", "start", "end", "other_start", "other_end", "matched", "longest"'


def test_revision_0013_packs_the_rows_of_spans_as_the_linker_does_and_back(tmp_path: Path) -> None:
    rows = [(9, 3, 0, 10, 5, 15, 10, 10), (9, 4, 20, 30, 0, 10, 9, 6), (12, 9, 2, 8, 1, 7, 6, 6)]
    rows += [(12, 3, 0, 4, 40, 44, 4, 4)]
    engine = create_engine(f"sqlite:///{tmp_path / 'archive.sqlite3'}")
    with engine.begin() as connection:
        command.upgrade(_alembic(connection), "0012")
        connection.execute(
            text(f"INSERT INTO spans ({COLUMNS}) VALUES (:a, :b, :c, :d, :e, :f, :g, :h)"),
            [dict(zip("abcdefgh", row, strict=True)) for row in rows],
        )
        command.upgrade(_alembic(connection), "head")
        stored = connection.execute(text("SELECT passage_id, data FROM span_packs ORDER BY id")).all()
        # As the linker would have packed them (there a pack a passage and batch, here a pack a
        # passage and side): the same regions under each passage.
        regions: dict[int, Counter[tuple[int, ...]]] = {}
        for key, data in stored:
            regions.setdefault(key, Counter()).update(map(tuple, spans.unpacked(data).tolist()))
        assert regions == _plain(rows)
        assert len(stored) == len({r[0] for r in rows}) + len({r[1] for r in rows})
        command.downgrade(_alembic(connection), "0012")
        back = connection.execute(text(f"SELECT {COLUMNS} FROM spans")).all()
        assert sorted(map(tuple, back)) == sorted(rows)
        assert "span_packs" not in {r[0] for r in connection.execute(text("SELECT name FROM sqlite_master"))}
    engine.dispose()


def test_an_archives_spans_are_read_from_the_packs_either_way_round(tmp_path: Path) -> None:
    """The reader's rows from a batch holding either side, or both, of a stored region."""
    engine = db.open_engine(f"sqlite:///{tmp_path / 'archive.sqlite3'}")
    rows = [(9, 3, 0, 10, 5, 15, 10, 10), (9, 4, 20, 30, 0, 10, 9, 6), (12, 9, 2, 8, 1, 7, 6, 6)]
    with engine.begin() as connection:
        spans.write(connection, verify.int_rows(rows, 8))
        stored = connection.execute(text("SELECT passage_id, data FROM span_packs")).all()
    regions = {key: sorted(map(tuple, spans.unpacked(data).tolist())) for key, data in stored}
    assert regions == {
        3: [(9, 5, 15, 0, 10, 10, 10)],
        4: [(9, 0, 10, 20, 30, 9, 6)],
        9: [(3, 0, 10, 5, 15, 10, 10), (4, 20, 30, 0, 10, 9, 6), (12, 1, 7, 2, 8, 6, 6)],
        12: [(9, 2, 8, 1, 7, 6, 6)],
    }
    engine.dispose()
