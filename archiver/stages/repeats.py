"""Repeats inside one submission: found, judged, and cut out of the archived text.

Two passages of a submission are the same passage when their normalised texts are equal, or
when they are LSH candidates (a shared band key) whose similarity reaches a threshold. The
similarity used here is the larger of the character-shingle Jaccard and the edit similarity
(1 − Levenshtein / length) of the normalised texts: a copy pasted with a typo every twenty
characters is still the same passage, and 3-gram Jaccard counts each typo three times where
edit similarity counts it once. At ``remove_at`` or above the later copy is removed; from
``match_at`` up to ``remove_at`` the clerk is warned and both stay.

Work per passage is bounded: a band bucket holds at most ``max_candidates`` passages (the
earliest), and at most ``max_candidates`` candidates, those sharing the most bands, are
verified. A file of thousands of near-alike lines (a log, a table dump) then costs linear
time instead of quadratic; an ordinary report never comes near the bound.

Cross-submission matching lives in ``index.py``: it needs the archive.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from rapidfuzz.distance import Levenshtein

from archiver.config import FingerprintConfig, MatchConfig
from archiver.records import Fingerprint, Passage, Repeat
from archiver.stages import fingerprint as fp


def similarity(a_normalised: str, b_normalised: str, config: FingerprintConfig) -> float:
    """max(shingle Jaccard, edit similarity) of two normalised texts, in [0, 1]."""
    return _similarity(
        a_normalised, fp.shingle_set(a_normalised, config), b_normalised, fp.shingle_set(b_normalised, config)
    )


def _similarity(a: str, a_shingles: np.ndarray, b: str, b_shingles: np.ndarray) -> float:
    jaccard = fp.jaccard(a_shingles, b_shingles)
    return max(jaccard, float(Levenshtein.normalized_similarity(a, b)))


def find_repeats(
    passages: Sequence[Passage],
    fingerprints: Sequence[Fingerprint],
    match: MatchConfig,
    config: FingerprintConfig,
) -> tuple[Repeat, ...]:
    """Every passage that repeats an earlier one; ``of`` is always a passage that stays."""
    first_by_exact: dict[str, int] = {}
    buckets: dict[tuple[int, int], list[int]] = {}
    kept = _Kept(config)
    repeats: list[Repeat] = []
    short: list[Repeat] = []
    signed = [(f.passage, f.signature) for f in fingerprints if f.signature is not None]
    bulk_keys = fp.band_keys_bulk([signature for _, signature in signed], config)
    # A passage that shares no band key with another can be no one's candidate and have none:
    # it skips the buckets (most passages of a report; the loop below is per band, in Python).
    keys_of = {
        index: keys
        for (index, _), keys, sharing in zip(signed, bulk_keys.tolist(), shares_a_key(bulk_keys), strict=True)
        if sharing
    }
    for passage, print_ in zip(passages, fingerprints, strict=True):
        if print_.normalised_chars == 0:
            continue
        earlier = first_by_exact.get(print_.exact)
        if earlier is not None:
            found = Repeat(passage.index, earlier, 1.0, removed=True)
            (repeats if print_.normalised_chars >= config.min_chars else short).append(found)
            continue
        first_by_exact[print_.exact] = passage.index
        if passage.index not in keys_of:
            continue
        keys = list(enumerate(keys_of[passage.index]))
        kept.texts[passage.index] = print_.normalised
        repeat = _near_repeat(passage.index, keys, buckets, kept, match)
        if repeat is not None:
            repeats.append(repeat)
            if repeat.removed:
                continue
        for band_key in keys:
            bucket = buckets.setdefault(band_key, [])
            if len(bucket) < match.max_candidates:
                bucket.append(passage.index)
    return tuple(sorted(repeats + _in_repeated_blocks(short, repeats), key=lambda r: r.passage))


def shares_a_key(keys: np.ndarray) -> list[bool]:
    """For each row of band keys (``(n, bands)``), whether another row has the same key in the
    same band."""
    count, bands = keys.shape
    band = np.tile(np.arange(bands), count)
    key = keys.ravel()
    owner = np.repeat(np.arange(count), bands)
    order = np.lexsort((key, band))
    band, key, owner = band[order], key[order], owner[order]
    same = (band[1:] == band[:-1]) & (key[1:] == key[:-1])
    sharing = np.zeros(count, dtype=bool)
    sharing[owner[1:][same]] = True
    sharing[owner[:-1][same]] = True
    return [bool(s) for s in sharing.tolist()]


def _in_repeated_blocks(short: list[Repeat], removed: list[Repeat]) -> list[Repeat]:
    """The short exact repeats (headings, salutations) that sit inside a removed block.

    "各位代表！" opens every part of a work report and a date line may recur: a short line
    that repeats is removed only when a neighbouring passage is removed as well, as when a
    whole block with its heading was pasted twice. Removal spreads along a run of adjacent
    short repeats, so a run goes as a whole when a removed passage touches either end of it
    (one pass over the sorted runs: linear, however many short lines a file has).
    """
    gone = {r.passage for r in removed if r.removed}
    ordered = sorted(short, key=lambda r: r.passage)
    kept: list[Repeat] = []
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1].passage == ordered[end].passage + 1:
            end += 1
        if ordered[start].passage - 1 in gone or ordered[end].passage + 1 in gone:
            kept.extend(ordered[start : end + 1])
        start = end + 1
    return kept


class _Kept:
    """Normalised texts of a submission's passages, and their shingle sets computed once, on
    first need (most passages are never anyone's candidate)."""

    def __init__(self, config: FingerprintConfig) -> None:
        self.config = config
        self.texts: dict[int, str] = {}
        self._shingles: dict[int, np.ndarray] = {}

    def shingles(self, index: int) -> np.ndarray:
        if index not in self._shingles:
            self._shingles[index] = fp.shingle_set(self.texts[index], self.config)
        return self._shingles[index]


def _near_repeat(
    passage: int,
    keys: Sequence[tuple[int, int]],
    buckets: dict[tuple[int, int], list[int]],
    kept: _Kept,
    match: MatchConfig,
) -> Repeat | None:
    """The most similar earlier passage at ``match_at`` or above, as a Repeat; else None."""
    candidates = {index for key in keys for index in buckets.get(key, ())}
    if not candidates:
        return None
    if len(candidates) > match.max_candidates:  # counting is only worth it past the bound
        shared = Counter(index for key in keys for index in buckets.get(key, ()))
        ordered = fp.most_shared(shared, match.max_candidates)
    else:
        ordered = sorted(candidates)
    best, best_score = -1, -1.0
    for index in ordered:
        score = _similarity(
            kept.texts[passage], kept.shingles(passage), kept.texts[index], kept.shingles(index)
        )
        if score > best_score:
            best, best_score = index, score
    if best_score < match.match_at:
        return None
    return Repeat(passage, best, round(best_score, 4), removed=best_score >= match.remove_at)


def remove_repeats(text: str, passages: Sequence[Passage], repeats: Sequence[Repeat]) -> str:
    """``text`` without the removed passages; a line left empty by a removal goes with it."""
    removed = {r.passage for r in repeats if r.removed}
    if not removed:
        return text
    spans = removal_spans(text, [p for p in passages if p.index in removed])
    pieces, cursor = [], 0
    for start, end in spans:
        pieces.append(text[cursor:start])
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def removal_spans(text: str, removed: Sequence[Passage]) -> list[tuple[int, int]]:
    """The spans of ``text`` that removing the ``removed`` passages cuts, in order: each
    passage, the line break that would leave a blank line behind, and line breaks left at the
    ends of the text."""
    if not removed:
        return []
    spans: list[tuple[int, int]] = []
    cursor = 0
    for passage in sorted(removed, key=lambda p: p.start):
        start, end = passage.start, passage.end
        if start > cursor and text[start - 1] == "\n" and (end == len(text) or text[end] == "\n"):
            start -= 1
        elif start == cursor and end < len(text) and text[end] == "\n":
            end += 1
        spans.append((start, end))
        cursor = end
    return _strip_newlines(text, spans)


def _strip_newlines(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` and the line breaks at either end of what they leave of ``text``, merged."""
    kept, cursor = [], 0
    for start, end in spans:
        kept.append((cursor, start))
        cursor = end
    kept.append((cursor, len(text)))
    cut = list(spans)
    for order, strip in ((kept, str.lstrip), (kept[::-1], str.rstrip)):
        for start, end in order:
            piece = text[start:end]
            n = len(piece) - len(strip(piece, "\n"))
            if n:
                cut.append((start, start + n) if strip is str.lstrip else (end - n, end))
            if n < end - start:
                break
    merged: list[tuple[int, int]] = []
    for start, end in sorted(cut):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
