"""fingerprint stage: passages → ``Fingerprint``s (exact hash, MinHash signature, LSH band keys).

Every passage gets ``exact`` (blake2b-128 hex of its normalised text, UTF-8) and
``normalised_chars``. Only ``kind == "para"`` passages whose normalised text has at least
``config.min_chars`` characters get a MinHash ``signature``: titles, headings and meta lines
are matched by their exact hash only (they are short and formulaic, so shingle similarity
between them means little).

Signatures are byte-equal to datasketch 2.0's default "affine32" scheme:
``MinHash(num_perm, seed, hashfunc=shingle_hash).update_batch(shingles)``: each input hash is
pre-mixed with the 32-bit MurmurHash3 finaliser, then permuted as ``a * h + b`` in uint32
(the wrap-around is the modulo 2^32; ``a`` odd), and the minimum kept. The values are uint32
by construction, so a signature is ``num_perm`` little-endian uint32 (4 × num_perm bytes).
Here the minimum is taken for a whole batch of passages at once with numpy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from archiver.config import FingerprintConfig
from archiver.records import Fingerprint, Passage, built
from archiver.stages._memo import LruMemo
from archiver.stages.shingle import (
    NORMALISATION_VERSION,
    SHINGLE_HASH_NAME,
    SHINGLE_HASH_VERSION,
    TEXT_CHARS,
    U32,
    char_hashes_bulk,
    distinct_by_owner,
    jaccard,
    normalise,
    normalise_many,
    shingle_hash,
    shingle_hashes_bulk,
    shingle_set,
    shingle_sets,
    shingles,
    text_groups,
)

__all__ = [
    "NORMALISATION_VERSION",
    "anchors",
    "band_keys",
    "band_keys_bulk",
    "estimate",
    "fingerprint",
    "jaccard",
    "minhash_bulk",
    "normalise",
    "normalise_many",
    "parameters",
    "permutations",
    "shingle_hash",
    "shingle_set",
    "shingle_sets",
    "shingles",
    "signatures",
    "to_minhash",
]

MINHASH_SCHEME = "datasketch-affine32"
BAND_KEY_NAME = "splitmix64-chain-int64"
BAND_KEY_VERSION = 1
# Anchors (``buckets.anchor_rows``): winnowed character 6-grams (Schleimer, Wilkerson and
# Aiken's winnowing). In every window of 12 consecutive 6-grams the least hash is kept, so two
# texts that share a run of 6 + 12 - 1 = 17 normalised characters share an anchor (shorter
# runs often do), and about 2 / 13 of a text's positions are kept. They find the copied sentence or
# embedded paragraph that the MinHash bands, which see whole paragraphs, cannot. Their rows live
# in the same index under band numbers after the MinHash bands (one of ANCHOR_BANDS by key), so
# the levels, the bucket cap and compaction treat them as they treat the bands.
ANCHOR_K = 6
ANCHOR_WINDOW = 12
ANCHOR_BANDS = 8
CHUNK_BYTES = 64 << 20  # bound on the (shingles × num_perm) permutation matrix of one step
_EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's "no value yet"


@cache
def permutations(num_perm: int, seed: int) -> tuple[U32, U32]:
    """The affine32 parameters ``(a, b)`` exactly as datasketch 2.0 draws them for ``seed``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def _fmix32(h: U32) -> U32:
    """MurmurHash3's 32-bit finaliser (datasketch's pre-mix); uint32 arithmetic wraps."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def minhash_bulk(hashes: U32, owner: npt.NDArray[np.int64], count: int, config: FingerprintConfig) -> U32:
    """MinHash values ``(count, num_perm)`` from shingle hashes and the index of their owner.

    Owners without hashes keep datasketch's empty value 2^32 - 1 everywhere.
    """
    a, b = permutations(config.num_perm, config.seed)
    own, mixed = _unique_by_owner(hashes, owner)
    out = np.full((count, config.num_perm), _EMPTY, dtype=np.uint32)
    step = max(CHUNK_BYTES // (4 * config.num_perm), 1)
    # One reused buffer, permutations along rows: no page faults per chunk, and reduceat
    # runs along contiguous memory.
    buf = np.empty((config.num_perm, min(step, len(own))), dtype=np.uint32)
    for lo in range(0, len(own), step):
        part_own, part = own[lo : lo + step], buf[:, : len(own[lo : lo + step])]
        np.multiply(a[:, None], mixed[None, lo : lo + step], out=part)
        np.add(part, b[:, None], out=part)
        cuts = np.flatnonzero(np.r_[True, part_own[1:] != part_own[:-1]])
        ids = part_own[cuts]  # an owner cut by a chunk edge is combined with np.minimum
        out[ids] = np.minimum(out[ids], np.minimum.reduceat(part, cuts, axis=1).T)
    return out


def _unique_by_owner(hashes: U32, owner: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], U32]:
    """Each owner's distinct hashes (pre-mixed with fmix32), grouped by owner: duplicates
    cannot change a minimum."""
    keys = distinct_by_owner(hashes, owner)
    return (keys >> np.uint64(32)).astype(np.int64), _fmix32((keys & np.uint64(0xFFFFFFFF)).astype(np.uint32))


def signatures(normalised: Sequence[str], config: FingerprintConfig) -> list[bytes]:
    """The signature bytes (``num_perm`` little-endian uint32) of each normalised text."""
    result: list[bytes] = []
    for group in text_groups([len(t) for t in normalised], TEXT_CHARS):
        texts = normalised[group]
        hashes, owner = shingle_hashes_bulk(texts, config)
        values = minhash_bulk(hashes, owner, len(texts), config).astype("<u4", copy=False)
        result.extend(row.tobytes() for row in values)
    return result


def anchors(normalised: Sequence[str]) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """The distinct winnowed 6-gram hashes of each text and the text index of each, sorted by
    text, then hash. A text shorter than the window keeps its least 6-gram; one shorter than 6,
    none."""
    texts = [t if len(t) >= ANCHOR_K else "" for t in normalised]
    hashes, owner = char_hashes_bulk(texts, ANCHOR_K)
    if not hashes.size:
        return hashes, owner
    w = ANCHOR_WINDOW
    picked: list[npt.NDArray[np.int64]] = []
    if hashes.size >= w:
        first = np.arange(len(hashes) - w + 1, dtype=np.int64)
        whole = owner[first] == owner[first + w - 1]  # windows inside one text
        picked.append(window_argmin(hashes, w)[whole])
    counts = np.bincount(owner, minlength=len(texts))
    short = np.flatnonzero((counts > 0) & (counts < w))
    if short.size:
        starts = np.searchsorted(owner, short)
        for s, n in zip(starts.tolist(), counts[short].tolist(), strict=True):
            picked.append(np.array([s + int(np.argmin(hashes[s : s + n]))], dtype=np.int64))
    at = np.concatenate(picked) if picked else np.empty(0, np.int64)
    keys = distinct_by_owner(hashes[at], owner[at])
    return (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32), (keys >> np.uint64(32)).astype(np.int64)


def window_argmin(values: U32, w: int) -> npt.NDArray[np.int64]:
    """The position of the first least value of each window of ``w`` values (``1 ≤ w ≤ len``):
    ``sliding_window_view(values, w).argmin(axis=1)`` plus the window's start, found by doubling
    (the first least of ``[i, i + 2k)`` from those of its halves) instead of reading every window."""
    value, at = values, np.arange(len(values), dtype=np.int64)
    size = 1
    while 2 * size <= w:  # value[i], at[i]: the first least of [i, i + size)
        right = slice(size, None)
        later = value[right] < value[:-size]  # only a strictly smaller later half wins
        value, at = np.where(later, value[right], value[:-size]), np.where(later, at[right], at[:-size])
        size *= 2
    if size == w:
        return at
    # Two overlapping blocks of ``size`` cover a window; the first least is in the left one
    # unless the right one holds a smaller value.
    shift = w - size
    later = value[shift:] < value[: len(value) - shift]
    return np.where(later, at[shift:], at[: len(at) - shift])


def anchor_bytes(normalised: Sequence[str]) -> list[bytes]:
    """Each text's ``anchors`` as little-endian uint32 bytes (``Fingerprint.anchors``)."""
    hashes, owner = anchors(normalised)
    cuts = np.searchsorted(owner, np.arange(len(normalised) + 1))
    packed = hashes.astype("<u4", copy=False)
    return [packed[lo:hi].tobytes() for lo, hi in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True)]


def exact_hash(normalised: str) -> str:
    """blake2b-128 hex digest of the normalised text (UTF-8)."""
    return hashlib.blake2b(normalised.encode("utf-8"), digest_size=16).hexdigest()


MEMO_TEXTS = 16_384  # passage texts a process remembers (≈ 1 KB each with anchors: at most ≈ 17 MB)


@dataclass(frozen=True, slots=True)  # slots: thousands are held
class _Known:
    """What a passage's text alone decides: its normalised form, exact hash, signature and
    anchors (None and empty until the text is signed: the same text may be a heading in another
    report)."""

    normalised: str
    exact: str
    signature: bytes | None
    anchors: bytes = b""


# For the last config only: bounded. Keyed by the text's digest (``text_key``), not the text: a
# memo full of passage texts held each one's characters a second time beside its normalised form.
_memo: dict[FingerprintConfig, LruMemo[bytes, _Known]] = {}


def _memo_for(config: FingerprintConfig) -> LruMemo[bytes, _Known]:
    if config not in _memo:
        _memo.clear()
        _memo[config] = LruMemo(MEMO_TEXTS)
    return _memo[config]


def text_key(text: str) -> bytes:
    """The memo's key of a passage's text: its blake2b-128 digest (UTF-16, so any ``str``, a lone
    surrogate too, has one). Two texts with one digest are as unlikely as two with one ``exact``."""
    return hashlib.blake2b(text.encode("utf-16-le", "surrogatepass"), digest_size=16).digest()


def normalise_remembered(texts: Sequence[str]) -> list[str]:
    """``normalise_many(texts)``, taking the normalised form the memo holds (the same string: one
    copy in memory for both who keep it) where it holds one, without making it more recent."""
    keys = [text_key(text) for text in texts]
    # The memo of whichever config was last used (``_memo`` keeps one): normalising depends on none.
    memo = next(iter(_memo.values()), None)
    held = memo.peek(keys) if memo is not None else {}
    found = [held[key].normalised if key in held else None for key in keys]
    fresh = iter(normalise_many([text for text, known in zip(texts, found, strict=True) if known is None]))
    return [known if known is not None else next(fresh) for known in found]


def fingerprint(passages: Sequence[Passage], config: FingerprintConfig) -> tuple[Fingerprint, ...]:
    """One ``Fingerprint`` per passage, in order; signatures only for long enough paragraphs.

    A fingerprint depends only on the passage's text and ``config``, and reports repeat each
    other's paragraphs (boilerplate: many passages are copies), so the texts this process
    fingerprinted last are remembered (``MEMO_TEXTS``) and looked up.
    """
    memo = _memo_for(config)
    keys = {text: text_key(text) for text in dict.fromkeys(p.text for p in passages)}  # distinct, in order
    held = memo.found(keys.values())
    known = {text: held[key] for text, key in keys.items() if key in held}
    fresh = [t for t in keys if t not in known]
    for text, normalised in zip(fresh, normalise_many(fresh), strict=True):
        known[text] = _Known(normalised, exact_hash(normalised), None)
    signing = [_signs(p, known[p.text].normalised, config) for p in passages]
    wanted = (p.text for p, signs in zip(passages, signing, strict=True) if signs)
    unsigned = [t for t in dict.fromkeys(wanted) if known[t].signature is None]
    signing_texts = [known[t].normalised for t in unsigned]
    new_signatures = signatures(signing_texts, config)
    new_anchors = anchor_bytes(signing_texts)
    for text, signature, anchored in zip(unsigned, new_signatures, new_anchors, strict=True):
        was = known[text]  # not ``dataclasses.replace``: it costs several constructions
        known[text] = _Known(was.normalised, was.exact, signature, anchored)
    memo.remember({keys[text]: entry for text, entry in known.items()})
    return tuple(_print(p, known[p.text], signs) for p, signs in zip(passages, signing, strict=True))


def _print(passage: Passage, known: _Known, signed: bool) -> Fingerprint:
    fields = {
        "passage": passage.index,
        "exact": known.exact,
        "normalised_chars": len(known.normalised),
        "signature": known.signature if signed else None,
        "normalised": known.normalised,
        "anchors": known.anchors if signed else b"",
    }
    return built(Fingerprint, fields)  # one a passage of every file: without ``__init__``


def reusable(kind: str, normalised_chars: int, min_chars: int) -> bool:
    """Whether a kept passage can be reuse across submissions (and so gets a signature): a
    paragraph long enough to mean something. Headings, titles, signature lines and "各位代表！"
    are not reuse."""
    return kind == "para" and normalised_chars >= min_chars


def _signs(passage: Passage, normalised: str, config: FingerprintConfig) -> bool:
    return reusable(passage.kind, len(normalised), config.min_chars)


def band_keys_bulk(sigs: Sequence[bytes], config: FingerprintConfig) -> npt.NDArray[np.int64]:
    """``(len(sigs), bands)`` signed 64-bit LSH keys: each band's ``rows`` values chained
    through the splitmix64 finaliser. Equal rows give equal keys; the band index is not mixed
    in (it is part of the index table's key).
    """
    width = config.bands * config.rows
    if width > config.num_perm:
        raise ValueError(f"bands × rows ({width}) exceeds num_perm ({config.num_perm})")
    raw = np.frombuffer(b"".join(sigs), dtype="<u4").reshape(len(sigs), config.num_perm)
    rows = raw[:, :width].reshape(len(sigs), config.bands, config.rows).astype(np.uint64)
    h = np.full((len(sigs), config.bands), np.uint64(config.rows), dtype=np.uint64)
    for r in range(config.rows):
        h = _mix64(h * np.uint64(0x9E3779B97F4A7C15) + rows[:, :, r])
    return h.view(np.int64)


def _mix64(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def band_keys(signature: bytes, config: FingerprintConfig) -> list[int]:
    """The ``bands`` LSH keys of one signature (Python ints in the signed 64-bit range)."""
    return [int(k) for k in band_keys_bulk([signature], config)[0]]


def most_shared(shared_bands: Mapping[int, int], limit: int) -> list[int]:
    """The ``limit`` candidates sharing the most band keys, ties to the earliest, in id order.

    One rule for repeats inside a file (match) and links across the archive (index): a true
    copy shares most of its bands, so the bound on verified candidates drops the unlikely ones.
    """
    ranked = sorted(shared_bands, key=lambda index: (-shared_bands[index], index))
    return sorted(ranked[:limit])


def estimate(sig_a: bytes, sig_b: bytes) -> float:
    """MinHash Jaccard estimate: the share of positions with equal hash values."""
    a, b = np.frombuffer(sig_a, dtype="<u4"), np.frombuffer(sig_b, dtype="<u4")
    if a.size != b.size or a.size == 0:
        raise ValueError("signatures of different (or zero) length cannot be compared")
    return float(np.count_nonzero(a == b)) / a.size


def to_minhash(signature: bytes, config: FingerprintConfig) -> Any:
    """A ``datasketch.LeanMinHash`` (scheme "affine32") holding the signature."""
    from datasketch import LeanMinHash

    values = np.frombuffer(signature, dtype="<u4").astype(np.uint32)
    return LeanMinHash(seed=config.seed, hashvalues=values, scheme="affine32")


def parameters(config: FingerprintConfig) -> dict[str, str | int]:
    """Everything that must be equal for two signatures (and band keys) to be comparable."""
    return {
        "tokenizer": config.tokenizer,
        "shingle_size": config.shingle_size,
        "num_perm": config.num_perm,
        "bands": config.bands,
        "rows": config.rows,
        "seed": config.seed,
        "min_chars": config.min_chars,
        "signed_kinds": "para",
        "normalisation_version": NORMALISATION_VERSION,
        "shingle_hash": SHINGLE_HASH_NAME,
        "shingle_hash_version": SHINGLE_HASH_VERSION,
        "minhash_scheme": MINHASH_SCHEME,
        "band_key": BAND_KEY_NAME,
        "band_key_version": BAND_KEY_VERSION,
        "anchors": f"winnow-k{ANCHOR_K}-w{ANCHOR_WINDOW}-bands{ANCHOR_BANDS}",
        "alignment": align_parameters(),
    }


def align_parameters() -> str:
    """The alignment settings the stored spans were made with (``stages.align``)."""
    from archiver.stages import align

    return f"seed{align.SEED}-gap{align.GAP}-min{align.MIN_MATCHED}"
