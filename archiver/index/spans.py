"""Copied character spans of a submission, from groups and aligned regions (``links``).

A kept paragraph P shares characters with a passage Q of another current submission when both
are in one group (identical normalised text: the whole of each) or when an aligned region
(``SpanRow``) joins their groups' representatives: that region of each. Offsets are mapped from
the normalised text onto each passage's cleaned text (``align.norm_offsets``) and given in the
archived text of its submission.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archiver.index.pairs import current_of
from archiver.stages import align
from archiver.store.bulk import chunks
from archiver.store.db import PassageRow, SpanRow

# A passage whose normalised characters are this much inside a region is held whole by it
# (the rest: a copier's light edits at its edges).
CONTAINED = 0.9


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


@lru_cache(maxsize=4096)
def _offsets(text: str) -> tuple[int, ...]:
    return tuple(align.norm_offsets(text))


def _cleaned(p: _Passage, start: int, end: int) -> tuple[int, int]:
    offsets = _offsets(p.text)
    if not offsets:
        return p.start, p.start
    lo, hi = align.cleaned_span(p.text, offsets, min(start, len(offsets) - 1), min(end, len(offsets)))
    return p.start + lo, p.start + hi


def copied_of(session: Session, submission_id: int) -> list[Copied]:
    """Every (span of a kept paragraph of ``submission_id``, span of a current submission's
    passage) pair that shares characters, sorted by offset."""
    mine = _passages(session, [PassageRow.submission_id == submission_id])
    if not mine:
        return []
    groups = sorted({p.rep_id for p in mine})
    # (my representative, other representative) → regions as (mine, other) normalised ranges
    regions: dict[tuple[int, int], list[tuple[int, int, int, int, int, int]]] = defaultdict(list)
    wanted = set(groups)
    for part in chunks(groups):
        columns = (
            SpanRow.passage_id,
            SpanRow.other_id,
            SpanRow.start,
            SpanRow.end,
            SpanRow.other_start,
            SpanRow.other_end,
            SpanRow.matched,
            SpanRow.longest,
        )
        rows = session.execute(
            select(*columns).where(or_(SpanRow.passage_id.in_(part), SpanRow.other_id.in_(part)))
        )
        for r in rows:
            if r.passage_id in wanted:
                regions[r.passage_id, r.other_id].append(
                    (r.start, r.end, r.other_start, r.other_end, r.matched, r.longest)
                )
            if r.other_id in wanted:
                regions[r.other_id, r.passage_id].append(
                    (r.other_start, r.other_end, r.start, r.end, r.matched, r.longest)
                )
    reps = sorted(wanted | {other for _, other in regions})
    members: dict[int, list[_Passage]] = defaultdict(list)
    for part in chunks(reps):
        for p in _passages(session, [PassageRow.rep_id.in_(part), PassageRow.submission_id != submission_id]):
            members[p.rep_id].append(p)
    current = current_of(session, {p.submission_id for ps in members.values() for p in ps})
    out: list[Copied] = []
    for p in mine:
        for q in members.get(p.rep_id, ()):
            if q.submission_id in current:
                n = len(_offsets(p.text))
                out.append(_copied(p, q, (0, n, 0, len(_offsets(q.text)), n, n)))
    by_rep: dict[int, list[_Passage]] = defaultdict(list)
    for p in mine:
        by_rep[p.rep_id].append(p)
    for (rep, other), found in regions.items():
        for p in by_rep[rep]:
            for q in members.get(other, ()):
                if q.submission_id in current:
                    out.extend(c for c in (_copied(p, q, region) for region in found) if _counts(c, p, q))
    return sorted(set(out))


def _counts(c: Copied, p: _Passage, q: _Passage) -> bool:
    """Whether a region counts as copied (``align.SENTENCE_ONLY_BELOW``)."""
    if c.matched >= align.SENTENCE_ONLY_BELOW:
        return True
    return align.whole_sentences(p.text, c.start - p.start, c.end - p.start) and align.whole_sentences(
        q.text, c.other_start - q.start, c.other_end - q.start
    )


def _copied(p: _Passage, q: _Passage, region: tuple[int, int, int, int, int, int]) -> Copied:
    start, end, other_start, other_end, matched, longest = region
    lo, hi = _cleaned(p, start, end)
    other_lo, other_hi = _cleaned(q, other_start, other_end)
    share = (end - start) / max(len(_offsets(p.text)), 1)
    other_share = (other_end - other_start) / max(len(_offsets(q.text)), 1)
    return Copied(
        lo, hi, p.id, q.id, q.submission_id, other_lo, other_hi, matched, longest, share, other_share
    )


def _passages(session: Session, where: Iterable[object]) -> list[_Passage]:
    columns = (PassageRow.id, PassageRow.submission_id, PassageRow.rep_id, PassageRow.start, PassageRow.text)
    rows = session.execute(
        select(*columns).where(*where, PassageRow.rep_id.is_not(None), PassageRow.removed.is_(False))  # type: ignore[arg-type]
    )
    return [_Passage(i, s, r or 0, st or 0, t) for i, s, r, st, t in rows]


__all__ = ["Copied", "copied_of"]
