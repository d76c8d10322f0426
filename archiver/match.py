"""Repeats inside one submission: found, judged, and cut out of the archived text.

Two passages of a submission are the same passage when their normalised texts are equal, or
when they are LSH candidates (a shared band key) whose similarity reaches a threshold. The
similarity used here is the larger of the character-shingle Jaccard and the edit similarity
(1 − Levenshtein / length) of the normalised texts: a copy pasted with a typo every twenty
characters is still the same passage, and 3-gram Jaccard counts each typo three times where
edit similarity counts it once. At ``remove_at`` or above the later copy is removed; from
``match_at`` up to ``remove_at`` the clerk is warned and both stay.

Cross-submission matching lives in ``index.py``: it needs the archive.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein

from archiver import fingerprint as fp
from archiver.config import FingerprintConfig, MatchConfig
from archiver.records import Fingerprint, Passage, Repeat


def similarity(a_normalised: str, b_normalised: str, config: FingerprintConfig) -> float:
    """max(shingle Jaccard, edit similarity) of two normalised texts, in [0, 1]."""
    jaccard = fp.jaccard(fp.shingle_set(a_normalised, config), fp.shingle_set(b_normalised, config))
    return max(jaccard, float(Levenshtein.normalized_similarity(a_normalised, b_normalised)))


def find_repeats(
    passages: Sequence[Passage],
    fingerprints: Sequence[Fingerprint],
    match: MatchConfig,
    config: FingerprintConfig,
) -> tuple[Repeat, ...]:
    """Every passage that repeats an earlier one; ``of`` is always a passage that stays."""
    first_by_exact: dict[str, int] = {}
    buckets: dict[tuple[int, int], list[int]] = {}
    normalised: dict[int, str] = {}
    repeats: list[Repeat] = []
    short: list[Repeat] = []
    signed = [(f.passage, f.signature) for f in fingerprints if f.signature is not None]
    bulk_keys = fp.band_keys_bulk([signature for _, signature in signed], config).tolist()
    keys_of = {index: keys for (index, _), keys in zip(signed, bulk_keys, strict=True)}
    for passage, print_ in zip(passages, fingerprints, strict=True):
        if print_.normalised_chars == 0:
            continue
        earlier = first_by_exact.get(print_.exact)
        if earlier is not None:
            found = Repeat(passage.index, earlier, 1.0, removed=True)
            (repeats if print_.normalised_chars >= config.min_chars else short).append(found)
            continue
        first_by_exact[print_.exact] = passage.index
        if print_.signature is None:
            continue
        keys = list(enumerate(keys_of[passage.index]))
        repeat = _near_repeat(passage.index, print_.normalised, keys, buckets, normalised, match, config)
        if repeat is not None:
            repeats.append(repeat)
            if repeat.removed:
                continue
        for band_key in keys:
            buckets.setdefault(band_key, []).append(passage.index)
        normalised[passage.index] = print_.normalised
    return tuple(sorted(repeats + _in_repeated_blocks(short, repeats), key=lambda r: r.passage))


def _in_repeated_blocks(short: list[Repeat], removed: list[Repeat]) -> list[Repeat]:
    """The short exact repeats (headings, salutations) that sit inside a removed block.

    "各位代表！" opens every part of a work report and a date line may recur: a short line
    that repeats is removed only when a neighbouring passage is removed as well, as when a
    whole block with its heading was pasted twice.
    """
    gone = {r.passage for r in removed if r.removed}
    kept: list[Repeat] = []
    pending = sorted(short, key=lambda r: r.passage)
    changed = True
    while changed:
        changed = False
        for repeat in list(pending):
            if repeat.passage - 1 in gone or repeat.passage + 1 in gone:
                gone.add(repeat.passage)
                kept.append(repeat)
                pending.remove(repeat)
                changed = True
    return kept


def _near_repeat(
    passage: int,
    text: str,
    keys: Sequence[tuple[int, int]],
    buckets: dict[tuple[int, int], list[int]],
    normalised: dict[int, str],
    match: MatchConfig,
    config: FingerprintConfig,
) -> Repeat | None:
    """The most similar earlier passage at ``match_at`` or above, as a Repeat; else None."""
    candidates = sorted({index for key in keys for index in buckets.get(key, ())})
    if not candidates:
        return None
    best, best_score = -1, -1.0
    for index in candidates:
        score = similarity(text, normalised[index], config)
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
    pieces: list[str] = []
    cursor = 0
    for passage in passages:
        if passage.index not in removed:
            continue
        pieces.append(text[cursor : passage.start])
        cursor = passage.end
        # Drop the line break that would otherwise leave a blank line behind.
        if pieces[-1].endswith("\n") and (cursor == len(text) or text[cursor] == "\n"):
            pieces[-1] = pieces[-1][:-1]
        elif not pieces[-1] and cursor < len(text) and text[cursor] == "\n":
            cursor += 1
    pieces.append(text[cursor:])
    return "".join(pieces).strip("\n")
