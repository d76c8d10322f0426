"""Character alignment of two passages: which spans of one are copied from the other.

``align(a, b)`` works on normalised texts (``shingle.normalise``: no punctuation, Simplified,
case-folded), so Traditional script, pinyin annotations and ASCII punctuation never break a
copy. It is local, not global: a copied sentence is found wherever it sits in either passage,
and a sentence moved is found as a region of its own.

1. Seeds: every maximal run of at least ``SEED`` equal characters starting at a shared
   ``SEED``-gram (positions per gram capped, so a text of one repeated phrase stays linear).
2. The longest seeds first, each character of either side used once: a one-to-one matching,
   as ``difflib`` builds it, without its quadratic worst case.
3. Regions: seeds in order on both sides, with gaps of at most ``GAP`` characters on each side
   between them, are one region. The gaps are the light edits of a copier (a date, a figure, a
   place name, a character or two) and count as copied, as the auditor counts an edited copy.
4. A region counts when it holds at least ``MIN_MATCHED`` equal characters: CNKI's rule counts
   runs of 13 characters; shorter coincidences — a set phrase shared by two unrelated reports —
   are not reuse. Many pairs at once (``align_columns``), a pair whose shared grams cover no
   stretch of ``MIN_MATCHED`` characters with gaps of at most ``GAP`` is not seeded at all: it
   can have no region (``_may_align``; most of a verify task's anchored pairs).

``norm_offsets(text)`` maps each character of ``normalise(text)`` back to its index in the
cleaned text, so that spans found here become offsets of the archived text (``cleaned_spans``).
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from archiver.stages.shingle import normalise, t2s

SEED = 4  # characters a seed starts with
MAX_POSITIONS = 16  # positions remembered per seed gram in the other text
GAP = 8  # characters of either side an edit inside a region may take
MIN_MATCHED = 13  # equal characters a region needs to count as copied
SNAP = 4  # counted characters a span end may move to reach its sentence's end
# A region of fewer equal characters counts only where it is whole sentences on both sides:
# a set phrase (全国人民代表大会和地方各级人民代表大会, 19 characters) recurs inside unrelated
# sentences, a copier takes whole sentences.
SENTENCE_ONLY_BELOW = 30


I64 = npt.NDArray[np.int64]
Runs = tuple[I64, I64, I64, I64]  # pair, i, j, length: maximal runs, as ``seeds`` finds them


class Region(NamedTuple):
    """Aligned spans of ``a`` and ``b`` (normalised offsets, end exclusive). A named tuple: a
    verify task makes hundreds of thousands, and compares and sorts them as tuples."""

    start: int
    end: int
    other_start: int
    other_end: int
    matched: int  # equal characters inside the region
    longest: int  # its longest run of equal characters

    def swapped(self) -> Region:
        """The same region seen from the other text."""
        return Region(self.other_start, self.other_end, self.start, self.end, self.matched, self.longest)


@lru_cache(maxsize=8192)
def _grams(text: str, seed: int) -> tuple[dict[str, int], dict[str, list[int]], frozenset[str]]:
    """The ``seed``-grams of ``text``: the position of each, the positions of those that occur
    more than once (at most ``MAX_POSITIONS``), and the set. Remembered: a passage is aligned with
    each of its candidates."""
    count = len(text) - seed + 1
    grams = [text[i : i + seed] for i in range(count)]
    at = dict(zip(grams, range(count), strict=True))
    repeated: dict[str, list[int]] = {}
    if len(at) < count:
        # Few grams repeat: their positions are found by str.find (C), not by a loop over all.
        for gram, times in Counter(grams).items():
            if times > 1:
                found: list[int] = []
                i = text.find(gram)
                while i >= 0 and len(found) < MAX_POSITIONS:
                    found.append(i)
                    i = text.find(gram, i + 1)
                repeated[gram] = found
    return at, repeated, frozenset(at)


# A region of MIN_MATCHED equal characters in runs of ≥ SEED holds this many common seed-grams
# at least (distinct, unless one repeats): fewer, and there is nothing to align.
_MIN_COMMON = MIN_MATCHED - (SEED - 1) * (MIN_MATCHED // SEED)


def seeds(a: str, b: str, seed: int = SEED) -> list[tuple[int, int, int]]:
    """Maximal runs ``(i, j, length)`` with ``a[i:i+length] == b[j:j+length]``, length ≥ seed."""
    if len(a) < seed or len(b) < seed:
        return []
    at_a, more_a, set_a = _grams(a, seed)
    at_b, more_b, set_b = _grams(b, seed)
    common = set_a & set_b
    repeated = [g for g in common if g in more_a or g in more_b] if more_a or more_b else []
    if seed == SEED and len(common) < _MIN_COMMON and not repeated:
        return []
    # Most grams occur once on each side: their one pair of positions, in a comprehension.
    once = common.difference(repeated) if repeated else common
    starts = list(zip(map(at_a.__getitem__, once), map(at_b.__getitem__, once), strict=True))
    for gram in repeated:
        at_i, at_j = more_a.get(gram) or (at_a[gram],), more_b.get(gram) or (at_b[gram],)
        starts += [(i, j) for i in at_i for j in at_j]
    # A pair whose characters before are equal too is inside a run found from its start.
    return [(i, j, _extend(a, b, i, j, seed)) for i, j in starts if not (i and j and a[i - 1] == b[j - 1])]


def _extend(a: str, b: str, i: int, j: int, n: int) -> int:
    """The length of the run of equal characters at ``a[i:]``, ``b[j:]`` (known ≥ ``n``),
    compared in doubling slices rather than a character at a time."""
    step, room = 8, min(len(a) - i, len(b) - j)
    while step:
        if n + step <= room and a[i + n : i + n + step] == b[j + n : j + n + step]:
            n += step
            step *= 2
        else:
            step //= 2
    return n


def _one_to_one(found: list[tuple[int, int, int]], la: int, lb: int) -> list[tuple[int, int, int]]:
    """The longest runs first, each character of either side in at most one run (runs that
    overlap a taken one keep their longest free part, if still a seed long)."""
    return sorted(_greedy([(i, j, -m) for m, i, j in sorted((-n, i, j) for i, j, n in found)], la, lb))


def _greedy(ordered: Sequence[tuple[int, int, int]], la: int, lb: int) -> list[tuple[int, int, int]]:
    """``_one_to_one`` of runs already in its order (longest first, then by ``i``, ``j``), the
    runs kept in the order taken."""
    used_a, used_b = bytearray(la), bytearray(lb)
    kept: list[tuple[int, int, int]] = []
    for i, j, n in ordered:
        if used_a.find(1, i, i + n) < 0 and used_b.find(1, j, j + n) < 0:
            used_a[i : i + n] = b"\x01" * n
            used_b[j : j + n] = b"\x01" * n
            kept.append((i, j, n))
            continue
        if used_a.find(0, i, i + n) < 0 or used_b.find(0, j, j + n) < 0:
            continue  # taken whole on one side (most overlapping runs): nothing left of it
        # The characters free on both sides, as zero bytes: its longest stretch of them, the
        # first of the longest, found by the regular expression engine rather than a loop.
        both = (int.from_bytes(used_a[i : i + n]) | int.from_bytes(used_b[j : j + n])).to_bytes(n)
        free = max(_FREE.finditer(both), key=_length, default=None)
        if free is None:
            continue
        lo, hi = free.span()
        used_a[i + lo : i + hi] = b"\x01" * (hi - lo)
        used_b[j + lo : j + hi] = b"\x01" * (hi - lo)
        kept.append((i + lo, j + lo, hi - lo))
    return kept


_FREE = re.compile(b"\x00{%d,}" % SEED)  # a stretch free on both sides, long enough to keep


def _length(found: re.Match[bytes]) -> int:
    return found.end() - found.start()


def align(a: str, b: str, min_matched: int = MIN_MATCHED, gap: int = GAP) -> list[Region]:
    """The regions of ``a`` copied from ``b`` (both normalised), in the order of ``a``.

    Symmetric: ``align(b, a)`` gives the same regions, sides swapped (the greedy matching's ties
    are broken on the texts in one order), so a pair gets the same regions whichever of the two
    was archived first.
    """
    if b < a:
        return sorted(r.swapped() for r in align(b, a))
    if a == b and len(a) >= min_matched:
        return [Region(0, len(a), 0, len(b), len(a), len(a))]
    return _regions(_one_to_one(seeds(a, b), len(a), len(b)), min_matched, gap)


def _regions(runs: list[tuple[int, int, int]], min_matched: int, gap: int) -> list[Region]:
    """The one-to-one ``runs`` (in order) joined into regions across gaps of at most ``gap``."""
    regions: list[Region] = []
    current: list[tuple[int, int, int]] = []

    def close() -> None:
        if current:
            matched = sum(n for _, _, n in current)
            if matched >= min_matched:
                (i0, j0, _), (i1, j1, n1) = current[0], current[-1]
                longest = max(n for _, _, n in current)
                regions.append(Region(i0, i1 + n1, j0, j1 + n1, matched, longest))
            current.clear()

    for run in runs:
        if current:
            pi, pj, pn = current[-1]
            di, dj = run[0] - (pi + pn), run[1] - (pj + pn)
            if not (0 <= di <= gap and 0 <= dj <= gap):
                close()
        current.append(run)
    close()
    return regions


def align_many(
    pairs: Sequence[tuple[str, str]], min_matched: int = MIN_MATCHED, gap: int = GAP
) -> list[list[Region]]:
    """``align(a, b)`` of every pair, the same regions, found for all the pairs at once
    (``align_indexed`` of the pairs' distinct texts)."""
    ids: dict[str, int] = {}
    ia = np.fromiter((ids.setdefault(a, len(ids)) for a, _ in pairs), dtype=np.int64, count=len(pairs))
    ib = np.fromiter((ids.setdefault(b, len(ids)) for _, b in pairs), dtype=np.int64, count=len(pairs))
    return align_indexed(list(ids), ia, ib, min_matched, gap)


def align_indexed(
    texts: Sequence[str], ia: I64, ib: I64, min_matched: int = MIN_MATCHED, gap: int = GAP
) -> list[list[Region]]:
    """``align(texts[ia[k]], texts[ib[k]])`` of every ``k`` (``texts`` all different), the same
    regions, found for all the pairs at once (``align_columns``, as lists)."""
    return as_lists(align_columns(texts, ia, ib, min_matched, gap), len(ia))


# The regions of many pairs as columns: pair (its index k), then ``Region``'s fields; sorted by
# pair, each pair's regions in ``align``'s order. A verify task finds hundreds of thousands of
# regions: it reads them as arrays, never as ``Region`` objects.
Columns = tuple[I64, I64, I64, I64, I64, I64, I64]
_NO_COLUMNS: Columns = (np.zeros(0, np.int64),) * 7


def as_lists(columns: Columns, pairs: int) -> list[list[Region]]:
    """The ``Region`` lists of ``pairs`` pairs given as ``columns``."""
    out: list[list[Region]] = [[] for _ in range(pairs)]
    for k, *region in zip(*(c.tolist() for c in columns), strict=True):
        out[k].append(Region(*region))
    return out


def as_columns(found: Sequence[Sequence[Region]]) -> Columns:
    """``found`` (each pair's regions, in order) as ``Columns``."""
    rows = [(k, *region) for k, regions in enumerate(found) for region in regions]
    if not rows:
        return _NO_COLUMNS
    table = np.array(rows, dtype=np.int64)
    return tuple(np.ascontiguousarray(table[:, c]) for c in range(7))  # type: ignore[return-value]


def align_columns(
    texts: Sequence[str],
    ia: I64,
    ib: I64,
    min_matched: int = MIN_MATCHED,
    gap: int = GAP,
    prefilter: bool = True,
) -> Columns:
    """``align(texts[ia[k]], texts[ib[k]])`` of every ``k`` (``texts`` all different) as
    ``Columns``, found for all the pairs at once: the seeds with numpy (``_bulk_seeds``), and the
    regions too (``_bulk_regions``): only the runs that overlap another of their pair are matched
    one by one. The texts ``ia`` are the few that many pairs share (a verify task's new
    passages); the pairs shown to have no region (``_may_align``) are not seeded, unless
    ``prefilter`` is false (the plain form the tests compare with)."""
    if not len(ia):
        return _NO_COLUMNS
    # Each pair seen from the text that sorts first, as ``align`` turns it.
    rank = np.empty(len(texts), dtype=np.int64)
    rank[sorted(range(len(texts)), key=texts.__getitem__)] = np.arange(len(texts))
    turned = rank[ib] < rank[ia]
    a, b = np.where(turned, ib, ia), np.where(turned, ia, ib)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    # One full region, or too short for one; the bulk join is for two texts (it drops a gram
    # that is at one place of the task).
    alone = np.flatnonzero(a == b)
    parts = [_owned(alone, [align(texts[x], texts[x], min_matched, gap) for x in a[alone].tolist()])]
    todo = np.flatnonzero((a != b) & (lengths[a] >= SEED) & (lengths[b] >= SEED))
    a, b, turned = a[todo], b[todo], turned[todo]
    # The texts given first (a task's new passages) are the few that every pair has one of.
    found = _bulk_seeds(texts, a, b, turned, (min_matched, gap) if prefilter else None)
    if found is None:
        pairs = zip(ia[todo].tolist(), ib[todo].tolist(), strict=True)
        parts.append(_owned(todo, [align(texts[x], texts[y], min_matched, gap) for x, y in pairs]))
    else:
        bulk = _bulk_regions(found, lengths[a], lengths[b], min_matched, gap, turned)
        parts.append((todo[bulk[0]], *bulk[1:]))
    if not len(parts[0][0]):
        return parts[1]  # the pairs of equal texts are few, most tasks have none with a region
    # Each pair's regions come from one part, in order: a stable sort by pair keeps that order.
    joined = [np.concatenate(column) for column in zip(*parts, strict=True)]
    order = np.argsort(joined[0], kind="stable")
    return tuple(column[order] for column in joined)  # type: ignore[return-value]


def _owned(owners: I64, found: Sequence[Sequence[Region]]) -> Columns:
    """``as_columns(found)`` with ``found[k]``'s regions given to pair ``owners[k]``."""
    columns = as_columns(found)
    return (owners[columns[0]], *columns[1:])


def _bulk_regions(
    runs: Runs,
    length_a: I64,
    length_b: I64,
    min_matched: int,
    gap: int,
    turned: npt.NDArray[np.bool_] | None = None,
) -> Columns:
    """``_regions(_one_to_one(...))`` of the runs of every pair (``length_a``, ``length_b``: its
    texts'), as ``Columns``; those of a pair ``turned`` seen from its other text
    (``Region.swapped``), in order."""
    pair, i, j, n = runs
    pairs = len(length_a)
    span = int(max(length_a.max(initial=0), length_b.max(initial=0))) + 1  # bounds of i, j, n
    order = _sort_order((pair, pairs), (i, span), (j, span))
    pair, i, j, n = pair[order], i[order], j[order], n[order]
    # A run that overlaps no other of its pair on either side is kept whole by the one-to-one
    # matching, and takes nothing from the others: only the rest are matched one by one.
    by_b = _sort_order((pair, pairs), (j, span), (i, span))
    pb, jb, nb = pair[by_b], j[by_b], n[by_b]
    apart = _apart(pair, i, n)
    apart[by_b] &= _apart(pb, jb, nb)
    tangled = np.zeros(pairs, dtype=bool)
    tangled[pair[~apart]] = True

    # A region's runs are cut from the pair's runs, apart on each side and with gaps of at most
    # ``gap``: its matched characters are at most what the runs cover of one cluster of them
    # (runs less than ``gap`` apart) on either side. A tangled pair without a cluster of
    # ``min_matched`` on both sides has no region.
    tangled &= _covered(pair, i, n, pairs, gap) >= min_matched
    tangled &= _covered(pb, jb, nb, pairs, gap) >= min_matched
    mixed = tangled[pair] & ~apart
    if mixed.any():
        # The tangled pairs' runs matched one by one, in the matching's order (longest first);
        # the runs each keeps then join the others' below.
        rows = np.flatnonzero(mixed)
        longest_first = span - n[rows]
        rows = rows[_sort_order((pair[rows], pairs), (longest_first, span), (i[rows], span), (j[rows], span))]
        bounds = np.r_[0, np.cumsum(np.bincount(pair[rows], minlength=pairs))].tolist()
        listed = list(zip(i[rows].tolist(), j[rows].tolist(), n[rows].tolist(), strict=True))
        owners: list[int] = []
        kept: list[tuple[int, int, int]] = []
        at = np.flatnonzero(tangled)
        for k, la, lb in zip(at.tolist(), length_a[at].tolist(), length_b[at].tolist(), strict=True):
            taken = _greedy(listed[bounds[k] : bounds[k + 1]], la, lb)
            owners += [k] * len(taken)
            kept += taken
        keep = ~mixed
        taken_i, taken_j, taken_n = np.array(kept, dtype=np.int64).reshape(-1, 3).T
        pair, i, j, n = pair[keep], i[keep], j[keep], n[keep]
        pair, i, j, n = np.r_[pair, owners], np.r_[i, taken_i], np.r_[j, taken_j], np.r_[n, taken_n]
        order = _sort_order((pair, pairs), (i, span), (j, span))
        pair, i, j, n = pair[order], i[order], j[order], n[order]
    if not len(pair):
        return _NO_COLUMNS
    # Every run is kept now, in order of a: a region is a series of runs joined by gaps.
    di, dj = i[1:] - (i[:-1] + n[:-1]), j[1:] - (j[:-1] + n[:-1])
    joined = (pair[1:] == pair[:-1]) & (di >= 0) & (di <= gap) & (dj >= 0) & (dj <= gap)
    first = np.flatnonzero(np.r_[True, ~joined])
    last = np.r_[first[1:] - 1, len(pair) - 1]
    matched = np.add.reduceat(n, first)
    longest = np.maximum.reduceat(n, first)
    ok = matched >= min_matched
    first, last = first[ok], last[ok]
    columns: Columns = (
        pair[first],
        i[first],
        i[last] + n[last],
        j[first],
        j[last] + n[last],
        matched[ok],
        longest[ok],
    )
    if turned is not None and len(columns[0]):
        owner, start, end, other_start, other_end, both, run = columns
        turn = turned[owner]
        start, other_start = np.where(turn, other_start, start), np.where(turn, start, other_start)
        end, other_end = np.where(turn, other_end, end), np.where(turn, end, other_end)
        seen = np.lexsort((run, both, other_end, other_start, end, start, owner))
        columns = (
            owner[seen],
            start[seen],
            end[seen],
            other_start[seen],
            other_end[seen],
            both[seen],
            run[seen],
        )
    return columns


def _sort_order(*columns: tuple[I64, int]) -> I64:
    """``np.lexsort``'s order of ``columns``, the most significant first, each given with a bound
    its values (all ≥ 0) stay below: one integer key sorted (a stable sort of one key is many
    times faster than lexsort's of several) when the bounds' product fits in 63 bits."""
    if math.prod(bound for _, bound in columns) >= 1 << 63:
        return np.lexsort([column for column, _ in reversed(columns)])
    key = np.zeros(len(columns[0][0]), dtype=np.int64)
    for column, bound in columns:
        key = key * bound + column
    return np.argsort(key, kind="stable")


def _apart(pair: I64, start: I64, n: I64) -> npt.NDArray[np.bool_]:
    """Whether each run (sorted by pair, start) overlaps no other run of its pair."""
    if not len(pair):
        return np.zeros(0, dtype=bool)
    # Offset by pair, the running end of the runs so far never crosses into the next pair.
    shift = pair * (int(start.max() + n.max()) + 1)
    before = np.r_[-1, np.maximum.accumulate(start + n + shift)[:-1]]
    after = np.r_[start[1:] + shift[1:], np.iinfo(np.int64).max]
    apart: npt.NDArray[np.bool_] = (start + shift >= before) & (start + n + shift <= after)
    return apart


def _covered(pair: I64, start: I64, n: I64, pairs: int, gap: int) -> I64:
    """The most characters covered by one cluster of each pair's runs (sorted by pair, start),
    runs of a cluster at most ``gap`` apart."""
    if not len(pair):
        return np.zeros(pairs, dtype=np.int64)
    # Offset by pair, the running end of the runs so far never crosses into the next pair.
    shift = pair * (int(start.max() + n.max()) + gap + 1)
    end = np.maximum.accumulate(start + n + shift)
    before = np.r_[-1, end[:-1]]
    new = np.r_[True, pair[1:] != pair[:-1]] | (start + shift > before + gap)
    added = np.where(new, n, np.maximum(start + n + shift - np.maximum(start + shift, before), 0))
    cluster = np.cumsum(new) - 1
    covered = np.bincount(cluster, weights=added).astype(np.int64)
    best = np.zeros(pairs, dtype=np.int64)
    np.maximum.at(best, pair[new], covered)
    return best


_NO_RUNS: Runs = (np.zeros(0, np.int64),) * 4
_NO_CHAR = 0x110000  # code points stay below this
_CHAR_BITS = 64 // SEED  # a SEED-gram is one 64-bit key when a task has at most 2**this characters
_MIX = 0x9E3779B97F4A7C15  # Fibonacci hashing of grams into buckets
_MAY_ALIGN_CELLS = 1 << 24  # (lead text, gram) cells ``_may_align`` uses at most (a byte each: 16 MB)


def _bucket(keys: npt.NDArray[np.uint64], bits: int) -> npt.NDArray[np.int64]:
    return ((keys * np.uint64(_MIX)) >> np.uint64(64 - bits)).view(np.int64)


def _bulk_seeds(
    texts: Sequence[str],
    ia: I64,
    ib: I64,
    firsts: npt.NDArray[np.bool_] | None = None,
    regions: tuple[int, int] | None = None,
) -> Runs | None:
    """``seeds(texts[ia[k]], texts[ib[k]])`` of every pair ``k`` (``texts`` all different, each
    ``ia[k] != ib[k]``, both at least ``SEED`` long), as arrays (None: more distinct characters
    than keys can hold): the same starts (the ``MAX_POSITIONS`` first positions of a repeated
    gram, the ``_MIN_COMMON`` test), found for all the pairs at once with numpy. ``firsts``:
    which text of each pair is one of a few (the new passages of a verify task), true for ``b``;
    the grams of the others are looked at only where those have them. ``regions``: the
    ``(min_matched, gap)`` of the regions wanted; the pairs that cannot have one of them
    (``_may_align``) then have no seeds (most of a verify task's anchored pairs).

    Grams are exact keys (``_gram_keys``: ``SEED`` characters in 64 bits), never hashes: a
    pair's common grams are found by looking each gram of ``a`` up among ``b``'s in one sorted
    table of (text, gram) groups, and runs are extended by comparing whole grams, then
    characters.
    """
    pairs = len(ia)
    if not pairs:
        return _NO_RUNS
    firsts = np.zeros(pairs, dtype=bool) if firsts is None else firsts
    # The pairs' texts only, numbered anew.
    used, inverse = np.unique(np.r_[ia, ib], return_inverse=True)
    ia, ib = inverse[:pairs], inverse[pairs:]
    texts = [texts[k] for k in used.tolist()]
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    base = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=base[1:])
    cps = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype="<u4")
    # Every SEED-gram of the task as one key.
    key = _gram_keys(cps)
    if key is None:
        return None
    windows = len(key)
    owner = np.repeat(np.arange(len(texts), dtype=np.int32), lengths)[:windows]
    # Window starts whose SEED characters lie inside one text: not the last SEED - 1 of each.
    inside_text = np.ones(windows, dtype=bool)
    tails = (base[1:, None] - np.arange(1, SEED)).ravel()
    inside_text[tails[tails < windows]] = False
    # Only grams of ``firsts`` may be common to a pair: every pair has one text there.
    lead = np.zeros(len(texts), dtype=bool)
    lead[np.where(firsts, ib, ia)] = True
    lead_at = np.flatnonzero(lead[owner] & inside_text)
    number = _numbered(key, lead_at, inside_text)
    at = np.flatnonzero(number >= 0)
    live = None
    if regions is not None and len(at):
        leads = np.where(firsts, ib, ia)
        live = _may_align(number, at, lead_at, owner, base, leads, np.where(firsts, ia, ib), *regions)
        # Only the texts of the pairs that may align are looked at further.
        wanted = np.zeros(len(texts), dtype=bool)
        wanted[ia[live]] = wanted[ib[live]] = True
        at = at[wanted[owner[at]]]
    # Sorted by gram then position (so by text within a gram; a stable sort of small integers
    # is a radix sort); a gram the task has once matches nothing and is dropped.
    numbers = number[at]
    small = numbers.max(initial=0) < 1 << 16
    order = np.argsort(numbers.astype(np.uint16) if small else numbers, kind="stable")
    at, sorted_keys = at[order], numbers[order]
    first = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    gram = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    times = np.diff(np.r_[starts, len(at)])
    shared = np.repeat(times > 1, times)
    at, gram = at[shared], gram[shared]
    if not len(at):
        return _NO_RUNS
    text = owner[at].astype(np.int64)
    # Groups: one gram in one text, its positions in order.
    group_first = np.flatnonzero(np.r_[True, (gram[1:] != gram[:-1]) | (text[1:] != text[:-1])])
    group_count = np.diff(np.r_[group_first, len(at)])
    group_text, group_gram = text[group_first], gram[group_first]
    grams = int(gram[-1]) + 1
    # by text, then gram (a stable sort of small integers is a radix sort)
    by_text = np.argsort(group_text.astype(np.uint16 if len(texts) <= 1 << 16 else np.int64), kind="stable")
    table = group_text[by_text] * grams + group_gram[by_text]
    text_from = np.searchsorted(group_text[by_text], np.arange(len(texts) + 1))

    # Each group of a pair's a looked up among b's: the pair's common grams.
    # Each group of the text of a pair with fewer is looked up among the other's.
    in_a, in_b = text_from[ia + 1] - text_from[ia], text_from[ib + 1] - text_from[ib]
    flip = in_b < in_a
    source, target = np.where(flip, ib, ia), np.where(flip, ia, ib)
    per_pair = np.minimum(in_a, in_b) if live is None else np.where(live, np.minimum(in_a, in_b), 0)
    pair = np.repeat(np.arange(pairs), per_pair)
    row = np.arange(len(pair)) - np.repeat(np.cumsum(per_pair) - per_pair - text_from[source], per_pair)
    looked = by_text[row]
    wanted = target[pair] * grams + group_gram[looked]
    hit = np.minimum(np.searchsorted(table, wanted), len(table) - 1)
    common = table[hit] == wanted
    pair, looked, found = pair[common], looked[common], by_text[hit[common]]
    flipped = flip[pair]
    group_a, group_b = np.where(flipped, found, looked), np.where(flipped, looked, found)
    # seeds' shortcut: too few common grams, none repeated, is no region (an exact rule there,
    # applied here so that the starts are the same).
    repeated = (group_count[group_a] > 1) | (group_count[group_b] > 1)
    enough = (np.bincount(pair, minlength=pairs) >= _MIN_COMMON) | (
        np.bincount(pair, weights=repeated, minlength=pairs) > 0
    )
    keep = enough[pair]
    pair, group_a, group_b = pair[keep], group_a[keep], group_b[keep]

    # Every pair of remembered positions of each common gram.
    count_a = np.minimum(group_count[group_a], MAX_POSITIONS)
    count_b = np.minimum(group_count[group_b], MAX_POSITIONS)
    product = count_a * count_b
    which = np.repeat(np.arange(len(pair)), product)
    nth = np.arange(len(which)) - np.repeat(np.cumsum(product) - product, product)
    pos_a = at[group_first[group_a[which]] + nth // count_b[which]]
    pos_b = at[group_first[group_b[which]] + nth % count_b[which]]
    pair = pair[which]
    # A start whose characters before are equal too is inside a run found from its start.
    i, j = pos_a - base[ia[pair]], pos_b - base[ib[pair]]
    inside = (i > 0) & (j > 0)
    inside[inside] = cps[pos_a[inside] - 1] == cps[pos_b[inside] - 1]
    run = ~inside
    pair, i, j, pos_a, pos_b = pair[run], i[run], j[run], pos_a[run], pos_b[run]
    room = np.minimum(lengths[ia[pair]] - i, lengths[ib[pair]] - j)
    length = _run_lengths(key, cps, pos_a, pos_b, room)

    return pair, i, j, length


def _may_align(
    number: npt.NDArray[np.int32],
    at: I64,
    lead_at: I64,
    owner: npt.NDArray[np.int32],
    base: I64,
    lead: I64,
    other: I64,
    min_matched: int,
    gap: int,
) -> npt.NDArray[np.bool_]:
    """Whether each pair of texts ``lead[k]``, ``other[k]`` may have a region of ``min_matched``
    equal characters: false only where ``align`` finds none. ``number``: each window's gram
    among those of the lead texts (``_numbered``), ``at`` the windows that have one, ``lead_at``
    the lead texts' windows; ``owner``: each window's text, starting at ``base``.

    An exact bound: every character of a run of equal characters (a seed, or the part of one
    the matching keeps) is inside a window of ``other`` whose gram ``lead`` has too, and a
    region's runs are at most ``gap`` apart, so a region lies in one cluster of such windows
    (each at most ``gap`` characters from the cluster's others), and its equal characters are
    at most those the cluster covers. Most anchored pairs share one short run, or a few far
    apart, and have no such cluster."""
    pairs = len(lead)
    numbered = number[at]
    grams = int(numbered.max()) + 1
    leads, local = np.unique(lead, return_inverse=True)
    if len(leads) * grams > _MAY_ALIGN_CELLS:
        return np.ones(pairs, dtype=bool)
    rank = np.zeros(len(base), dtype=np.int64)
    rank[leads] = np.arange(len(leads))
    # Which gram each lead text has: one cell a (lead text, gram).
    has = np.zeros(len(leads) * grams, dtype=bool)
    has[rank[owner[lead_at]] * grams + number[lead_at]] = True
    # The windows of each pair's other text with a lead text's gram (a range of ``at``), and
    # of those the ones with a gram of the pair's own.
    bounds = np.searchsorted(at, base)
    first = bounds[other]
    count = bounds[other + 1] - first
    ends = np.cumsum(count)
    row = np.arange(int(ends[-1]), dtype=np.int64) + np.repeat(first - (ends - count), count)
    cell = np.repeat((local * grams).astype(np.int32), count) + numbered[row]
    hit = np.flatnonzero(has[cell])
    if not len(hit):
        return np.zeros(pairs, dtype=bool)
    position = at[row[hit]]
    pair = np.repeat(np.arange(pairs, dtype=np.int32), count)[hit]
    # Clusters of those windows in order, each pair's apart; the characters each covers.
    step = np.diff(position)
    new = np.ones(len(hit), dtype=bool)
    new[1:] = (pair[1:] != pair[:-1]) | (step > SEED + gap)
    added = np.full(len(hit), SEED, dtype=np.int64)
    added[1:] = np.where(new[1:], SEED, np.minimum(step, SEED))
    starts = np.flatnonzero(new)
    best = np.zeros(pairs, dtype=np.int64)
    np.maximum.at(best, pair[starts], np.add.reduceat(added, starts))
    return best >= min_matched


def _gram_keys(cps: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint64] | None:
    """The ``SEED``-gram at each position of ``cps`` (at least ``SEED`` long) as one exact key:
    its code points side by side where they fit in ``_CHAR_BITS`` each, else dense ids of the
    characters (None: more distinct characters than that holds)."""
    windows = len(cps) - SEED + 1
    if _CHAR_BITS == 16 and int(cps.max()) < 1 << 16:
        # The gram's characters as 16-bit units in memory are the 8 bytes of its key.
        narrow = cps.astype("<u2")
        return np.ndarray((windows,), dtype="<u8", buffer=narrow, strides=(2,)).copy()
    seen = np.zeros(_NO_CHAR, dtype=bool)
    seen[cps] = True
    alphabet = np.flatnonzero(seen)
    if len(alphabet) > 1 << _CHAR_BITS:
        return None
    lut = np.empty(_NO_CHAR, dtype=np.uint64)
    lut[alphabet] = np.arange(len(alphabet), dtype=np.uint64)
    dense = lut[cps]
    width = max(len(alphabet) - 1, 1).bit_length()  # bits per character
    key = np.zeros(windows, dtype=np.uint64)
    for k in range(SEED):
        key |= dense[k : k + windows] << np.uint64(width * (SEED - 1 - k))
    return key


def _numbered(
    key: npt.NDArray[np.uint64], lead_at: I64, inside: npt.NDArray[np.bool_]
) -> npt.NDArray[np.int32]:
    """For every window where ``inside`` is set, the number of its gram among the distinct grams
    at ``lead_at`` (in key order), or -1 where it is none of them. Looked up in a table of hash
    buckets (the gram's number, or -1 where two share one), then checked exactly."""
    number = np.full(len(key), -1, dtype=np.int32)
    lead_keys = np.sort(key[lead_at])
    lead_keys = lead_keys[np.r_[True, lead_keys[1:] != lead_keys[:-1]]] if len(lead_keys) else lead_keys
    if not len(lead_keys):
        return number
    # An eighth full at most, small enough to stay in the cache while every window looks it up.
    bits = max((8 * len(lead_keys)).bit_length(), 10)
    slots = np.zeros(1 << bits, dtype=np.int32)
    buckets = _bucket(lead_keys, bits)
    numbers = np.arange(1, len(lead_keys) + 1, dtype=np.int32)
    slots[buckets] = numbers
    slots[buckets[slots[buckets] != numbers]] = -1  # a bucket two grams write to
    slot = slots[_bucket(key, bits)]
    at = np.flatnonzero(inside & (slot != 0))
    found = slot[at].astype(np.int64) - 1
    shared = found < 0
    found[shared] = np.minimum(np.searchsorted(lead_keys, key[at[shared]]), len(lead_keys) - 1)
    same = lead_keys[found] == key[at]
    number[at[same]] = found[same]
    return number


def _run_lengths(
    key: npt.NDArray[np.uint64],
    cps: npt.NDArray[np.uint32],
    pos_a: npt.NDArray[np.int64],
    pos_b: npt.NDArray[np.int64],
    room: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """How far each run of equal characters from ``pos_a``, ``pos_b`` (known ``SEED`` long)
    goes within ``room``: a gram at a time while the next grams are equal, then a character."""
    length = np.full(len(pos_a), SEED, dtype=np.int64)

    def extend(live: npt.NDArray[np.int64], step: int, values: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
        n = length[live]
        top = len(values) - 1
        same = values[np.minimum(pos_a[live] + n, top)] == values[np.minimum(pos_b[live] + n, top)]
        live = live[(n + step <= room[live]) & same]
        length[live] += step
        return live

    live = np.arange(len(pos_a))
    while live.size:
        live = extend(live, SEED, key)
    live = np.arange(len(pos_a))
    for _ in range(SEED - 1):
        live = extend(live, 1, cps)
    return length


WHOLE = 0.8  # share of both passages aligned that makes a pair a copy of the whole paragraph


def whole_paragraph(regions: Sequence[Region], length: int, other_length: int) -> bool:
    """Whether ``regions`` cover most (``WHOLE``) of both passages: a copy of the paragraph, not
    of sentences of it."""
    mine = sum(r.end - r.start for r in regions)
    other = sum(r.other_end - r.other_start for r in regions)
    return mine >= WHOLE * length and other >= WHOLE * other_length


def whole_paragraphs(columns: Columns, lengths: I64, other_lengths: I64) -> tuple[I64, npt.NDArray[np.bool_]]:
    """``whole_paragraph`` of every pair at once: the pairs that have regions in ``columns``
    (``align_columns``'), and for each whether they cover most of both its texts, of lengths
    ``lengths[k]`` and ``other_lengths[k]`` (pair ``k``)."""
    owner, start, end, other_start, other_end = columns[:5]
    pairs, first = np.unique(owner, return_index=True)  # a pair's regions are rows first[i]…
    if not len(pairs):
        return pairs, np.zeros(0, dtype=np.bool_)
    mine = np.add.reduceat(end - start, first)
    other = np.add.reduceat(other_end - other_start, first)
    return pairs, (mine >= WHOLE * lengths[pairs]) & (other >= WHOLE * other_lengths[pairs])


# ---------------------------------------------------------------- back to the cleaned text

_NONWORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=65536)
def _piece(ch: str) -> str:
    """What normalisation makes of one character on its own (before t2s)."""
    return _NONWORD.sub("", unicodedata.normalize("NFKC", ch).casefold())


def norm_offsets(text: str) -> list[int]:
    """For each character of ``normalise(text)``, the index in ``text`` it comes from.

    Normalisation works character by character but for NFKC's composition and t2s's phrases,
    which keep the length; when a text is the exception, the two forms are aligned instead.
    """
    target = normalise(text)
    pieces = [_piece(ch) for ch in text]
    starts = [index for index, piece in enumerate(pieces) for _ in piece]
    if len(starts) == len(target):
        return starts
    own = t2s("".join(pieces))
    out = [0] * len(target)
    last = 0
    matcher = difflib.SequenceMatcher(None, own, target, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for k in range(j1, j2):
            source = i1 + (k - j1) if tag == "equal" else min(i1 + (k - j1), max(i2 - 1, i1))
            last = starts[source] if source < len(starts) else last
            out[k] = last
    return out


_SENTENCE_END = "。！？；!?;"
_CLOSERS = "”’」』）)》"


def cleaned_span(text: str, offsets: Sequence[int], start: int, end: int) -> tuple[int, int]:
    """The span of ``text`` holding normalised characters ``start``…``end``, widened to the whole
    sentence when its start or end is within ``SNAP`` counted characters (a copier's edit at a
    sentence's edge), with the sentence's closing punctuation."""
    lo, hi = offsets[start], offsets[end - 1] + 1
    lo = _snap_back(text, lo)
    hi = _snap_forward(text, hi)
    return lo, hi


def counts(
    matched: int,
    mine: tuple[str, int, int],
    other: tuple[str, int, int],
    whole: Callable[[str, int, int], bool] | None = None,
) -> bool:
    """Whether an aligned region counts as copied: ``SENTENCE_ONLY_BELOW`` equal characters, or
    whole sentences on both sides (``mine``/``other``: text, start, end; ``whole`` may be a cached
    ``whole_sentences``)."""
    if matched >= SENTENCE_ONLY_BELOW:
        return True
    whole = whole or whole_sentences
    return whole(*mine) and whole(*other)


def whole_sentences(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` starts and ends at sentence (or line) boundaries."""
    starts = start == 0 or text[start - 1] in _SENTENCE_END or text[start - 1] in _CLOSERS + "\n"
    ends = end == len(text) or text[end] == "\n" or text[end - 1] in _SENTENCE_END + _CLOSERS
    return starts and ends


def _snap_back(text: str, lo: int) -> int:
    counted, k = 0, lo
    while k > 0 and text[k - 1] not in _SENTENCE_END and text[k - 1] != "\n":
        if text[k - 1].isalnum():
            counted += 1
            if counted > SNAP:
                return lo
        k -= 1
    return k


def _snap_forward(text: str, hi: int) -> int:
    counted, k = 0, hi
    while k < len(text) and text[k] not in _SENTENCE_END and text[k] != "\n":
        if text[k].isalnum():
            counted += 1
            if counted > SNAP:
                return _closing(text, hi)
        k += 1
    if k < len(text) and text[k] in _SENTENCE_END:
        return _closing(text, k)
    return k


def _closing(text: str, k: int) -> int:
    """Past the sentence-end marks and closing quotes starting at ``k`` (if any)."""
    while k < len(text) and text[k] in _SENTENCE_END:
        k += 1
    while k < len(text) and text[k] in _CLOSERS:
        k += 1
    return k
