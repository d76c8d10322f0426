"""Copied character spans of a submission, from groups and aligned regions (``links``).

A kept paragraph P shares characters with a passage Q of another current submission when both
are in one group (identical normalised text: the whole of each) or when an aligned region
(``SpanPack``) joins their groups' representatives: that region of each. Offsets are mapped from
the normalised text onto each passage's cleaned text (``align.norm_offsets``) and given in the
archived text of its submission.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from archiver.index.pairs import current_of
from archiver.stages import align
from archiver.store.bulk import chunks, insert_tuples
from archiver.store.db import SPAN_PACK_COLUMNS, PassageRow, SpanPack, table

# A passage whose normalised characters are this much inside a region is held whole by it
# (the rest: a copier's light edits at its edges).
CONTAINED = 0.9
# Submissions whose spans are read together (``copied_of_many``): a batch's passages and the
# members of their groups are held at once.
BATCH = 200


@dataclass(frozen=True, order=True)
class Copied:
    """Characters of a passage of this submission shared with a passage of another."""

    start: int  # offsets in this submission's archived text
    end: int
    passage_id: int
    other_id: int
    other_submission_id: int
    other_start: int  # offsets in the other submission's archived text
    other_end: int
    matched: int  # equal normalised characters
    longest: int  # the longest run of them
    share: float  # the region's part of this passage's normalised characters
    other_share: float  # and of the other passage's

    def taken_from_here(self) -> bool:
        """Whether, by its shape alone, the other passage took this region from this one: this
        passage is held whole inside a longer one (an embedded paragraph), or, neither being
        whole, the region is the smaller part of this passage (sentences lifted out of it into
        a paragraph written around them). Only a region shared within one year needs this:
        across years the earlier side is the source."""
        if self.share >= CONTAINED or self.other_share >= CONTAINED:
            return self.share >= CONTAINED > self.other_share
        return self.share < self.other_share


@dataclass(frozen=True)
class _Passage:
    id: int
    submission_id: int
    rep_id: int
    start: int
    text: str


@lru_cache(maxsize=32768)
def _offsets(text: str) -> array[int]:
    """``align.norm_offsets``, remembered across batches (a bounded number, compactly): the
    passages of large groups are the other side of pairs in most batches."""
    return array("I", align.norm_offsets(text))


class _Mapped:
    """Normalised ranges mapped onto cleaned text (``align.norm_offsets``), each text and each
    (text, range) once: in a batch one passage is the other side of many pairs, and members of
    a group mostly share their cleaned text."""

    def __init__(self) -> None:
        self._cleaned: dict[tuple[str, int, int], tuple[int, int]] = {}
        self._whole: dict[tuple[str, int, int], bool] = {}

    def offsets(self, text: str) -> Sequence[int]:
        return _offsets(text)

    def cleaned(self, p: _Passage, start: int, end: int) -> tuple[int, int]:
        """The normalised range ``start``…``end`` of ``p`` as offsets of its submission's text."""
        key = (p.text, start, end)
        found = self._cleaned.get(key)
        if found is None:
            offsets = self.offsets(p.text)
            if not offsets:
                found = (0, 0)
            else:
                found = align.cleaned_span(
                    p.text,
                    offsets,
                    min(start, len(offsets) - 1),
                    min(end, len(offsets)),
                )
            self._cleaned[key] = found
        return p.start + found[0], p.start + found[1]

    def whole_sentences(self, text: str, lo: int, hi: int) -> bool:
        key = (text, lo, hi)
        found = self._whole.get(key)
        if found is None:
            found = self._whole[key] = align.whole_sentences(*key)
        return found


def copied_of(session: Session, submission_id: int) -> list[Copied]:
    """Every (span of a kept paragraph of ``submission_id``, span of a current submission's
    passage) pair that shares characters, sorted by offset."""
    return copied_of_many(session, [submission_id])[submission_id]


def copied_of_many(session: Session, submission_ids: Collection[int]) -> dict[int, list[Copied]]:
    """``copied_of`` of each of ``submission_ids`` (a batch): the batch's passages, their
    aligned regions, the other members of the groups involved and which of their submissions
    are current, each read once for the whole batch."""
    out: dict[int, list[Copied]] = {i: [] for i in submission_ids}
    mine: list[_Passage] = []
    for part in chunks(sorted(out)):
        mine += _passages(session, [PassageRow.submission_id.in_(part)])
    if not mine:
        return out
    wanted = {p.rep_id for p in mine}
    # (my representative, other representative) → regions as (mine, other) normalised ranges
    regions: dict[tuple[int, int], list[tuple[int, int, int, int, int, int]]] = defaultdict(list)
    for part in chunks(sorted(wanted)):
        stored = session.execute(
            select(SpanPack.passage_id, SpanPack.data).where(SpanPack.passage_id.in_(part))
        )
        for rep, data in stored:
            for other, *region in unpacked(data).tolist():
                regions[rep, other].append(tuple(region))
    members: dict[int, list[_Passage]] = defaultdict(list)
    for part in chunks(sorted(wanted | {other for _, other in regions})):
        for p in _passages(session, [PassageRow.rep_id.in_(part)]):
            members[p.rep_id].append(p)
    current = current_of(session, {p.submission_id for ps in members.values() for p in ps})
    m = _Mapped()
    by_rep: dict[int, list[_Passage]] = defaultdict(list)
    for p in mine:
        by_rep[p.rep_id].append(p)
        n = len(m.offsets(p.text))
        found = out[p.submission_id]
        for q in members.get(p.rep_id, ()):
            if q.submission_id != p.submission_id and q.submission_id in current:
                found.append(_copied(m, p, q, (0, n, 0, len(m.offsets(q.text)), n, n)))
    for (rep, other), held in regions.items():
        for p in by_rep[rep]:
            for q in members.get(other, ()):
                if q.submission_id != p.submission_id and q.submission_id in current:
                    out[p.submission_id].extend(
                        c for c in (_copied(m, p, q, region) for region in held) if _counts(m, c, p, q)
                    )
    return {i: sorted(set(found)) for i, found in out.items()}


def _counts(m: _Mapped, c: Copied, p: _Passage, q: _Passage) -> bool:
    """Whether a region counts as copied (``align.SENTENCE_ONLY_BELOW``)."""
    return align.counts(
        c.matched,
        (p.text, c.start - p.start, c.end - p.start),
        (q.text, c.other_start - q.start, c.other_end - q.start),
        m.whole_sentences,
    )


def _copied(m: _Mapped, p: _Passage, q: _Passage, region: tuple[int, int, int, int, int, int]) -> Copied:
    start, end, other_start, other_end, matched, longest = region
    lo, hi = m.cleaned(p, start, end)
    other_lo, other_hi = m.cleaned(q, other_start, other_end)
    share = (end - start) / max(len(m.offsets(p.text)), 1)
    other_share = (other_end - other_start) / max(len(m.offsets(q.text)), 1)
    return Copied(
        lo,
        hi,
        p.id,
        q.id,
        q.submission_id,
        other_lo,
        other_hi,
        matched,
        longest,
        share,
        other_share,
    )


def _passages(session: Session, where: Iterable[object]) -> list[_Passage]:
    columns = (
        PassageRow.id,
        PassageRow.submission_id,
        PassageRow.rep_id,
        PassageRow.start,
        PassageRow.text,
    )
    rows = session.execute(
        select(*columns).where(*where, PassageRow.rep_id.is_not(None), PassageRow.removed.is_(False))  # type: ignore[arg-type]
    )
    return [_Passage(i, s, r or 0, st or 0, t) for i, s, r, st, t in rows]


# A span pack's data: int32 rows of SPAN_PACK_COLUMNS (passage ids are int4 columns too).
PACKED = np.dtype("<i4")
# From a span's (passage, other, start, end, other_start, other_end, matched, longest): its row in
# the pack of its later passage, and in the pack of the earlier one (the sides swapped).
_LATER = [1, 2, 3, 4, 5, 6, 7]
_EARLIER = [0, 4, 5, 2, 3, 6, 7]


def packs(spans: npt.NDArray[np.int64]) -> list[tuple[int, bytes]]:
    """A batch's spans (``verify.Span`` rows, as ``verify.int_rows`` gives them) as span packs'
    rows (passage id, data), by passage id: each region in its later and its earlier passage's,
    in the spans' order within each."""
    if not len(spans):
        return []
    keys = np.concatenate([spans[:, 0], spans[:, 1]])
    rows = np.concatenate([spans[:, _LATER], spans[:, _EARLIER]])
    limits = np.iinfo(PACKED)
    if rows.min() < limits.min or rows.max() > limits.max:
        raise ValueError("span_packs: a value beyond int32")
    order = np.argsort(keys, kind="stable")
    keys, rows = keys[order], rows[order].astype(PACKED)
    cuts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    # Slices of the bytes of all the rows, not of the array: a batch has thousands of packs,
    # and a NumPy slice and its ``tobytes`` each cost more than a slice of ``bytes``.
    width = rows.shape[1] * PACKED.itemsize
    data = rows.tobytes()
    starts = (np.r_[0, cuts] * width).tolist()
    ends = (np.r_[cuts, len(keys)] * width).tolist()
    ids = keys[np.r_[0, cuts]].tolist()
    return [(id_, data[a:b]) for id_, a, b in zip(ids, starts, ends, strict=True)]


def unpacked(data: bytes) -> npt.NDArray[np.int32]:
    """A span pack's rows: one row of ``SPAN_PACK_COLUMNS`` a region."""
    return np.frombuffer(bytes(data), dtype=PACKED).reshape(-1, len(SPAN_PACK_COLUMNS))


def write(connection: Connection, spans: npt.NDArray[np.int64]) -> None:
    """Store a batch's spans (``packs``): a row a passage instead of a row a region, in one
    table under one index, where a row a region under two indexes was most of what the link
    stage spent writing."""
    insert_tuples(connection, table(SpanPack), packs(spans), ("passage_id", "data"))


__all__ = [
    "BATCH",
    "CONTAINED",
    "PACKED",
    "Copied",
    "copied_of",
    "copied_of_many",
    "packs",
    "unpacked",
    "write",
]
