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
   are not reuse.

``norm_offsets(text)`` maps each character of ``normalise(text)`` back to its index in the
cleaned text, so that spans found here become offsets of the archived text (``cleaned_spans``).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

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


@dataclass(frozen=True, order=True)
class Region:
    """Aligned spans of ``a`` and ``b`` (normalised offsets, end exclusive)."""

    start: int
    end: int
    other_start: int
    other_end: int
    matched: int  # equal characters inside the region
    longest: int  # its longest run of equal characters


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
    used_a, used_b = bytearray(la), bytearray(lb)
    kept: list[tuple[int, int, int]] = []
    for i, j, n in sorted(found, key=lambda s: (-s[2], s[0], s[1])):
        if used_a.find(1, i, i + n) < 0 and used_b.find(1, j, j + n) < 0:
            used_a[i : i + n] = b"\x01" * n
            used_b[j : j + n] = b"\x01" * n
            kept.append((i, j, n))
            continue
        best, run_start, k = (0, 0), -1, 0
        for k in range(n + 1):
            free = k < n and not used_a[i + k] and not used_b[j + k]
            if free and run_start < 0:
                run_start = k
            elif not free and run_start >= 0:
                if k - run_start > best[1] - best[0]:
                    best = (run_start, k)
                run_start = -1
        lo, hi = best
        if hi - lo >= SEED:
            used_a[i + lo : i + hi] = b"\x01" * (hi - lo)
            used_b[j + lo : j + hi] = b"\x01" * (hi - lo)
            kept.append((i + lo, j + lo, hi - lo))
    return sorted(kept)


def align(a: str, b: str, min_matched: int = MIN_MATCHED, gap: int = GAP) -> list[Region]:
    """The regions of ``a`` copied from ``b`` (both normalised), in the order of ``a``.

    Symmetric: ``align(b, a)`` gives the same regions, sides swapped (the greedy matching's ties
    are broken on the texts in one order), so a pair gets the same regions whichever of the two
    was archived first.
    """
    if b < a:
        swapped = (
            Region(r.other_start, r.other_end, r.start, r.end, r.matched, r.longest) for r in align(b, a)
        )
        return sorted(swapped)
    if a == b and len(a) >= min_matched:
        return [Region(0, len(a), 0, len(b), len(a), len(a))]
    runs = _one_to_one(seeds(a, b), len(a), len(b))
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


WHOLE = 0.8  # share of both passages aligned that makes a pair a copy of the whole paragraph


def whole_paragraph(regions: Sequence[Region], length: int, other_length: int) -> bool:
    """Whether ``regions`` cover most (``WHOLE``) of both passages: a copy of the paragraph, not
    of sentences of it."""
    mine = sum(r.end - r.start for r in regions)
    other = sum(r.other_end - r.other_start for r in regions)
    return mine >= WHOLE * length and other >= WHOLE * other_length


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
