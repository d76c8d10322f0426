"""Hash-only text normalisation, shingles and the shingle hash (scalar and bulk).

``normalise`` is the fingerprint form of a passage (equal to the bench kit's ``norm_fp``):
NFKC → OpenCC t2s → casefold → every ``[\\W_]`` character deleted. It is used for hashing only;
the archived text is never changed by it. ``normalise_many`` gives the same for a whole submission's
passages at once (what the fingerprint stage uses).

Shingles of a normalised text are character n-grams (a text shorter than n is one shingle, itself;
an empty text has none) or, with the "jieba" tokenizer, jieba words (n == 1) or word n-grams joined
by a space (a space never survives normalisation, so joins are unambiguous).

``shingle_hash`` maps one shingle to a uint32: FNV-1a over the 64-bit code points, then the
splitmix64 finaliser, then the high 32 bits. Because it works on code points rather than bytes, it
can be computed for every window of a whole batch of texts at once with numpy (``char_hashes_bulk``
and ``hash_strings_bulk``); the scalar form is what datasketch gets as ``hashfunc``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from archiver.config import FingerprintConfig

NORMALISATION_VERSION = 1
SHINGLE_HASH_NAME = "fnv1a64-codepoints+splitmix64-hi32"
SHINGLE_HASH_VERSION = 1

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]

_NONWORD = re.compile(r"[\W_]+")
_MASK64 = (1 << 64) - 1
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_SM1, _SM2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
# Characters that t2s leaves alone one by one but changes inside a TSPhrases entry
# (深沈 → 深沉): the differing positions of every changing phrase, from OpenCC 1.4.2's
# TSPhrases. tests/test_fingerprint.py re-derives this from the installed dictionary.
T2S_PHRASE_TRIGGERS = "么俱哩坏彷沈甦瞭藉衹覆"
# Where OpenCC's t2s/TSCharacters(Ext)/CJK-compatibility keys live (checked by the same test).
_T2S_RANGES = ((0x3400, 0xA000), (0xF900, 0xFB00), (0x20000, 0x32400), (0x2F800, 0x2FA20))


@cache
def _t2s() -> Any:
    """The OpenCC t2s converter, built once per process."""
    import opencc

    return opencc.OpenCC("t2s")


@cache
def t2s_triggers() -> frozenset[str]:
    """Every character whose presence can make t2s change a text.

    The characters that t2s changes on their own (found with one conversion over the CJK
    ranges, newline-separated so no phrase can match) plus ``T2S_PHRASE_TRIGGERS``. A text
    with none of them contains no changing dictionary key, so t2s returns it unchanged.
    """
    chars = [chr(c) for lo, hi in _T2S_RANGES for c in range(lo, hi)]
    converted = _t2s().convert("\n".join(chars)).split("\n")
    changed = {c for c, out in zip(chars, converted, strict=True) if c != out}
    return frozenset(changed | set(T2S_PHRASE_TRIGGERS))


def t2s(text: str) -> str:
    """OpenCC t2s, skipped (same result) when the text holds no trigger character."""
    if t2s_triggers().isdisjoint(text):
        return text
    result: str = _t2s().convert(text)
    return result


def normalise(text: str) -> str:
    """The hashing form of ``text``: NFKC → t2s → casefold → ``[\\W_]+`` deleted."""
    return _NONWORD.sub("", t2s(unicodedata.normalize("NFKC", text)).casefold())


@cache
def _fold_table() -> U32:
    """Code point → its NFKD form, for every BMP character whose NFKD form is one character.

    Such a character's full compatibility decomposition is that one character, so replacing
    it by it leaves the NFKD form of any text, and hence its NFKC form, unchanged; it turns
    full-width ASCII (，：（ ）１ Ａ) and the ideographic space into text NFKC's quick check
    passes, so ``unicodedata.normalize`` returns most passages without doing any work.
    """
    table = np.arange(0x10000, dtype=np.uint32)
    for c in range(0x10000):
        nfkd = unicodedata.normalize("NFKD", chr(c))
        if len(nfkd) == 1:
            table[c] = ord(nfkd)
    table.setflags(write=False)
    return table


@cache
def _trigger_table() -> npt.NDArray[np.bool_]:
    """Code point → whether it is one of ``t2s_triggers()`` (a vectorised precheck)."""
    table = np.zeros(0x110000, dtype=np.bool_)
    table[[ord(c) for c in t2s_triggers()]] = True
    table.setflags(write=False)
    return table


def normalise_many(texts: Sequence[str]) -> list[str]:
    """``[normalise(t) for t in texts]``, computed over the whole batch at once.

    The texts are joined with newlines: NFKC, t2s (whose dictionary keys hold no newline),
    casefold and the deletion of ``[\\W_]`` act on each line independently, so the lines of
    the result are the results for each text. The per-text work left is NFKC's quick check
    (after ``_fold_table``) and t2s on the texts holding a trigger character.
    """
    joined = "\n".join(texts)
    if not texts or joined.count("\n") != len(texts) - 1:
        return [normalise(t) for t in texts]  # a text with a newline of its own: one by one
    try:
        cps = np.frombuffer(joined.encode("utf-32-le"), dtype="<u4")
    except UnicodeEncodeError:  # a lone surrogate
        return [normalise(t) for t in texts]
    bmp = cps < 0x10000
    folded = np.where(bmp, _fold_table()[np.where(bmp, cps, 0)], cps).astype("<u4")
    ends = np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1)
    hit = set(np.searchsorted(ends, np.flatnonzero(_trigger_table()[folded]), side="right").tolist())
    parts = folded.tobytes().decode("utf-32-le").split("\n")
    for i, part in enumerate(parts):
        nfkc = unicodedata.normalize("NFKC", part)
        # A part NFKC leaves alone holds a trigger only where ``hit`` found one.
        parts[i] = t2s(nfkc) if i in hit or nfkc != part else nfkc
    final = np.frombuffer("\n".join(parts).casefold().encode("utf-32-le"), dtype="<u4")
    # [\W_] is exactly "not str.isalnum()" (re's \w is isalnum() or "_"); keep the newlines.
    kept = final[_alnum(final) | (final == 10)]
    out: list[str] = kept.tobytes().decode("utf-32-le").split("\n")
    if len(out) != len(texts):  # cannot happen (no step makes or eats a newline); be safe
        return [normalise(t) for t in texts]
    return out


@cache
def _alnum_table() -> npt.NDArray[np.int8]:
    """Code point → 1 if ``chr(c).isalnum()``, 0 if not, -1 not looked up yet (see ``_alnum``)."""
    return np.full(0x110000, -1, dtype=np.int8)


def _alnum(cps: U32) -> npt.NDArray[np.bool_]:
    """``chr(c).isalnum()`` for every code point, filling the table for the ones first seen."""
    table = _alnum_table()
    flags = table[cps]
    unknown = flags < 0
    if unknown.any():
        for c in np.unique(cps[unknown]).tolist():
            table[c] = chr(c).isalnum()
        flags = table[cps]
    return flags > 0


@cache
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def shingles(normalised: str, config: FingerprintConfig) -> list[str]:
    """The shingle strings of a normalised text, in order, duplicates kept."""
    n = config.shingle_size
    if config.tokenizer == "jieba":
        words: list[str] = _jieba().lcut(normalised, HMM=False) if normalised else []
        if n == 1 or not words:
            return words
        if len(words) < n:
            return [" ".join(words)]
        return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    if len(normalised) < n:
        return [normalised] if normalised else []
    return [normalised[i : i + n] for i in range(len(normalised) - n + 1)]


def shingle_hash(shingle: str | bytes) -> int:
    """uint32 hash of one shingle (bytes are taken as UTF-8, as datasketch users pass them)."""
    text = shingle.decode("utf-8") if isinstance(shingle, bytes) else shingle
    h = _FNV_OFFSET
    for ch in text:
        h = ((h ^ ord(ch)) * _FNV_PRIME) & _MASK64
    return _splitmix_hi32(h)


def _splitmix_hi32(h: int) -> int:
    h = ((h ^ (h >> 30)) * _SM1) & _MASK64
    h = ((h ^ (h >> 27)) * _SM2) & _MASK64
    return (h ^ (h >> 31)) >> 32


def _finish(h: U64) -> U32:
    """The splitmix64 finaliser over an array, high 32 bits."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(_SM1)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(_SM2)
    return ((h ^ (h >> np.uint64(31))) >> np.uint64(32)).astype(np.uint32)


def codepoints(text: str) -> U64:
    """The code points of ``text`` as uint64 (via UTF-32, no per-character Python work)."""
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.uint64)


def hash_strings_bulk(strings: Sequence[str]) -> U32:
    """``shingle_hash`` of every string, vectorised over string positions (strings of any length)."""
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    cps = codepoints("".join(strings))
    starts = np.cumsum(lengths) - lengths
    h = np.full(len(strings), _FNV_OFFSET, dtype=np.uint64)
    for k in range(int(lengths.max(initial=0))):
        live = np.flatnonzero(lengths > k)
        h[live] = (h[live] ^ cps[starts[live] + k]) * np.uint64(_FNV_PRIME)
    return _finish(h)


def char_hashes_bulk(texts: Sequence[str], n: int) -> tuple[U32, npt.NDArray[np.int64]]:
    """Hashes of every character n-gram of every text, and the text index of each hash.

    Texts shorter than ``n`` contribute one hash (of the whole text), empty texts none, as
    ``shingles`` does. Windows are hashed over the concatenation and those that cross a text
    boundary are dropped.
    """
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    cps = codepoints("".join(texts))
    windows = max(len(cps) - n + 1, 0)
    h = np.full(windows, _FNV_OFFSET, dtype=np.uint64)
    for k in range(n):
        h = (h ^ cps[k : k + windows]) * np.uint64(_FNV_PRIME)
    owner = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)[:windows]
    starts = np.cumsum(lengths) - lengths
    keep = np.arange(windows, dtype=np.int64) - starts[owner] <= lengths[owner] - n
    hashes, owners = _finish(h[keep]), owner[keep]
    short = np.flatnonzero((lengths > 0) & (lengths < n))
    if short.size:
        extra = hash_strings_bulk([texts[int(i)] for i in short])
        hashes, owners = np.concatenate([hashes, extra]), np.concatenate([owners, short])
    return hashes, owners


def shingle_hashes_bulk(texts: Sequence[str], config: FingerprintConfig) -> tuple[U32, npt.NDArray[np.int64]]:
    """``(hashes, owner)`` of all shingles of the normalised ``texts`` under ``config``."""
    if config.tokenizer == "char":
        return char_hashes_bulk(texts, config.shingle_size)
    per_text = [shingles(t, config) for t in texts]
    counts = np.fromiter(map(len, per_text), dtype=np.int64, count=len(per_text))
    flat = [s for group in per_text for s in group]
    return hash_strings_bulk(flat), np.repeat(np.arange(len(texts), dtype=np.int64), counts)


def shingle_set(normalised: str, config: FingerprintConfig) -> U32:
    """Sorted unique uint32 shingle hashes of one normalised text (for exact verification)."""
    hashes, _ = shingle_hashes_bulk([normalised], config)
    return np.unique(hashes)


TEXT_CHARS = 1 << 20  # normalised characters hashed per bulk pass (bounds its arrays)


def text_groups(lengths: Sequence[int], limit: int) -> Iterator[slice]:
    """Consecutive index ranges of texts holding about ``limit`` characters each (a longer text
    is a range of its own): the bulk passes that keep hashing arrays bounded."""
    lo, chars = 0, 0
    for i, n in enumerate(lengths):
        if chars and chars + n > limit:
            yield slice(lo, i)
            lo, chars = i, 0
        chars += n
    if lo < len(lengths):
        yield slice(lo, len(lengths))


def distinct_by_owner(hashes: U32, owner: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    """The distinct (owner, hash) pairs as sorted ``owner << 32 | hash`` keys.

    A plain sort: ``np.unique`` is several times slower on uint64 in numpy 2.x.
    """
    keys = np.sort((owner.astype(np.uint64) << np.uint64(32)) | hashes.astype(np.uint64))
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if keys.size else keys


def shingle_sets(texts: Sequence[str], config: FingerprintConfig, group_chars: int = TEXT_CHARS) -> list[U32]:
    """``shingle_set`` of each text, hashed in bulk passes of about ``group_chars`` characters
    instead of one call per text."""
    sets: list[U32] = []
    for group in text_groups([len(t) for t in texts], group_chars):
        hashes, owner = shingle_hashes_bulk(texts[group], config)
        keys = distinct_by_owner(hashes, owner)
        count = group.stop - group.start
        bounds = np.searchsorted(keys >> np.uint64(32), np.arange(count + 1, dtype=np.uint64))
        values = (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        sets += [values[bounds[i] : bounds[i + 1]] for i in range(count)]
    return sets


def jaccard(a: U32, b: U32) -> float:
    """Exact Jaccard of two sorted unique hash arrays; 1.0 for two empty sets."""
    if a.size == 0 and b.size == 0:
        return 1.0
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (a.size + b.size - inter)
