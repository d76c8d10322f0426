"""span_packs in place of spans; indexes written and never read: ix_passages_rep_id holds only
the passages in a group, ix_passages_canonical_id and ix_matches_passage_id go.

A batch wrote a row per aligned region into spans, under an index on each side, and the regions
of a batch fall on few passages: span_packs holds, per passage and batch, that passage's regions
as one array of int32 rows, each region once under each of its passages, so that one index
finds a passage's regions either way round. The upgrade packs the rows of spans so, streamed
(a pack for each passage's regions as the later one and one as the earlier, in id order); the
downgrade writes each region back from its later
passage's pack (ids grow with arrival: the later passage of a pair has the larger id).

Filing a batch inserts every passage into each index of the table. About half the passages
(headings, short and removed ones) have no group, and every lookup by group names one
(``rep_id IN (…)``, ``rep_id = ?``), which a partial index of the rows where it is set answers.
Nothing looks passages up by their canonical passage, so its index was written and never read
(and on PostgreSQL it kept the canonical updates from being HOT). ``uq_match_pair`` (passage_id,
other_id) answers every lookup of matches by passage_id, as its left prefix.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 21:40:00
"""

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

IN_A_GROUP = sa.text("rep_id IS NOT NULL")
# Written out here rather than imported (``index.spans``): a migration is a frozen record of one
# step. A pack's rows: other id, start, end, other's start, other's end, matched, longest.
PACKED = np.dtype("<i4")
WIDTH = 7
SPAN_COLUMNS = ("passage_id", "other_id", "start", "end", "other_start", "other_end", "matched", "longest")
# spans' columns in a pack's order, the pack's passage first: the later passage's, the earlier's
LATER = SPAN_COLUMNS
EARLIER = ("other_id", "passage_id", "other_start", "other_end", "start", "end", "matched", "longest")
ROWS_AT_ONCE = 100_000


def _pack(rows: list[tuple[int, ...]]) -> dict[str, object]:
    data = np.array([row[1:] for row in rows], dtype=np.int64).astype(PACKED).tobytes()
    return {"passage_id": int(rows[0][0]), "data": data}


def _insert_packs(bind: sa.engine.Connection, packs: list[dict[str, object]]) -> None:
    if packs:
        bind.execute(sa.text("INSERT INTO span_packs (passage_id, data) VALUES (:passage_id, :data)"), packs)


def upgrade() -> None:
    op.drop_index("ix_passages_canonical_id", table_name="passages")
    op.drop_index("ix_passages_rep_id", table_name="passages")
    op.create_index(
        "ix_passages_rep_id", "passages", ["rep_id"], sqlite_where=IN_A_GROUP, postgresql_where=IN_A_GROUP
    )
    op.drop_index("ix_matches_passage_id", table_name="matches")
    op.create_table(
        "span_packs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("passage_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_span_packs_passage_id", "span_packs", ["passage_id"])
    bind = op.get_bind()
    # Each side in turn, streamed in key order (yield_per: a server-side cursor on PostgreSQL, for
    # this statement only): an archive's spans need not fit in memory.
    for side in (LATER, EARLIER):
        listed = ", ".join(f'"{c}"' for c in side)
        ordered = f"SELECT {listed} FROM spans ORDER BY \"{side[0]}\", id"
        packs: list[dict[str, object]] = []
        held: list[tuple[int, ...]] = []
        for row in bind.execute(sa.text(ordered), execution_options={"yield_per": ROWS_AT_ONCE}):
            if held and row[0] != held[0][0]:
                packs.append(_pack(held))
                held = []
            held.append(tuple(row))
            if len(packs) >= ROWS_AT_ONCE // 10:
                _insert_packs(bind, packs)
                packs = []
        if held:
            packs.append(_pack(held))
        _insert_packs(bind, packs)
    op.drop_index("ix_spans_other_id", table_name="spans")
    op.drop_index("ix_spans_passage_id", table_name="spans")
    op.drop_table("spans")


def downgrade() -> None:
    op.create_table(
        "spans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("passage_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("other_start", sa.Integer(), nullable=False),
        sa.Column("other_end", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("longest", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_spans_passage_id", "spans", ["passage_id"])
    op.create_index("ix_spans_other_id", "spans", ["other_id"])
    bind = op.get_bind()
    listed = ", ".join(f'"{c}"' for c in SPAN_COLUMNS)
    values = ", ".join(f":{c}" for c in SPAN_COLUMNS)
    insert = sa.text(f"INSERT INTO spans ({listed}) VALUES ({values})")
    spans: list[dict[str, int]] = []
    packs = sa.text("SELECT passage_id, data FROM span_packs ORDER BY id")
    for passage, data in bind.execute(packs, execution_options={"yield_per": ROWS_AT_ONCE // 10}):
        for other, *region in np.frombuffer(bytes(data), dtype=PACKED).reshape(-1, WIDTH).tolist():
            if passage > other:  # the later passage's copy of the region
                spans.append(dict(zip(SPAN_COLUMNS, (passage, other, *region), strict=True)))
        if len(spans) >= ROWS_AT_ONCE:
            bind.execute(insert, spans)
            spans = []
    if spans:
        bind.execute(insert, spans)
    op.drop_table("span_packs")
    op.create_index("ix_matches_passage_id", "matches", ["passage_id"])
    op.drop_index("ix_passages_rep_id", table_name="passages")
    op.create_index("ix_passages_rep_id", "passages", ["rep_id"])
    op.create_index("ix_passages_canonical_id", "passages", ["canonical_id"])
