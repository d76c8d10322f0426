"""LSH buckets of a batch's band rows, in NumPy: the band and anchor rows, and each row's rank.

Buckets are bounded so that no input can make the index's work quadratic: a bucket holds at
most ``max_candidates`` passages (the earliest: later passages still *find* them, they are just
not added). ``index.links``' lookup tasks apply the cap (``links._sharing``), from the bucket
sizes they read and each row's ``rank`` from here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from archiver.config import FingerprintConfig
from archiver.stages import fingerprint as fp
from archiver.stages.fingerprint import ANCHOR_BANDS, anchors


def band_rows(signed: Sequence[tuple[int, bytes]], config: FingerprintConfig) -> npt.NDArray[np.int64]:
    """(band, key, passage id) for every band of every (passage id, signature), an ``(n, 3)``
    array sorted like the index: inserts in key order touch each B-tree page once instead of once
    per row."""
    if not signed:
        return np.empty((0, 3), np.int64)
    ids = np.array([id_ for id_, _ in signed], dtype=np.int64)
    by_id = np.argsort(ids, kind="stable")
    keys = fp.band_keys_bulk([signed[i][1] for i in by_id.tolist()], config)
    count, bands = keys.shape
    # With the passages in id order, a stable sort of each band's keys orders a bucket by id:
    # one short sort a band, not a lexsort of three keys over every row (``_plain_band_rows``).
    by_band = keys.T
    order = np.argsort(by_band, axis=1, kind="stable")
    band = np.repeat(np.arange(bands, dtype=np.int64), count)
    key = np.take_along_axis(by_band, order, axis=1).ravel()
    return np.stack([band, key, ids[by_id][order].ravel()], axis=1)


def _plain_band_rows(signed: Sequence[tuple[int, bytes]], config: FingerprintConfig) -> npt.NDArray[np.int64]:
    """``band_rows`` written out: every row, lexsorted (the tests compare the two)."""
    if not signed:
        return np.empty((0, 3), np.int64)
    keys = fp.band_keys_bulk([signature for _, signature in signed], config)
    count, bands = keys.shape
    band = np.tile(np.arange(bands, dtype=np.int64), count)
    key = keys.ravel()
    ids = np.repeat(np.array([id_ for id_, _ in signed], dtype=np.int64), bands)
    order = np.lexsort((ids, key, band))
    return np.stack([band[order], key[order], ids[order]], axis=1)


def anchor_rows(texts: Sequence[tuple[int, str]], config: FingerprintConfig) -> npt.NDArray[np.int64]:
    """(band, key, passage id) of every anchor of every (passage id, normalised text), sorted like
    ``band_rows``; the bands are ``config.bands`` … ``config.bands + ANCHOR_BANDS - 1``."""
    if not texts:
        return np.empty((0, 3), np.int64)
    hashes, owner = anchors([t for _, t in texts])
    return _anchor_rows(hashes, np.array([id_ for id_, _ in texts], dtype=np.int64)[owner], config)


def computed_anchor_rows(
    anchored: Sequence[tuple[int, bytes]], config: FingerprintConfig
) -> npt.NDArray[np.int64]:
    """``anchor_rows`` of (passage id, ``Fingerprint.anchors``): of anchors the workers computed."""
    if not anchored:
        return np.empty((0, 3), np.int64)
    hashes = np.frombuffer(b"".join(a for _, a in anchored), dtype="<u4")
    counts = [len(a) // 4 for _, a in anchored]
    return _anchor_rows(
        hashes, np.repeat(np.array([id_ for id_, _ in anchored], dtype=np.int64), counts), config
    )


def _anchor_rows(
    hashes: npt.NDArray[np.uint32], ids: npt.NDArray[np.int64], config: FingerprintConfig
) -> npt.NDArray[np.int64]:
    by_id = np.argsort(ids, kind="stable")
    ids = ids[by_id]
    key = hashes.astype(np.int64)[by_id]
    band = config.bands + key % ANCHOR_BANDS
    # lexsort is stable: with the rows in id order, two keys give the order of three.
    order = np.lexsort((key, band))
    return np.stack([band[order], key[order], ids[order]], axis=1)


def _plain_anchor_rows(
    hashes: npt.NDArray[np.uint32], ids: npt.NDArray[np.int64], config: FingerprintConfig
) -> npt.NDArray[np.int64]:
    """``_anchor_rows`` written out: a lexsort of three keys (the tests compare the two)."""
    key = hashes.astype(np.int64)
    band = config.bands + key % ANCHOR_BANDS
    order = np.lexsort((ids, key, band))
    return np.stack([band[order], key[order], ids[order]], axis=1)


def bucket_codes(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """For rows sorted by (band, key), the number of their bucket, counting from 0."""
    return np.cumsum(bucket_starts(rows)) - 1


def bucket_starts(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """For rows sorted by (band, key), whether each is its bucket's first."""
    starts = np.ones(len(rows), dtype=bool)
    starts[1:] = (rows[1:, 0] != rows[:-1, 0]) | (rows[1:, 1] != rows[:-1, 1])
    return starts


def rank(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """For each of ``rows`` (band, key, id; sorted like the index), the rows of the batch before
    it in its bucket: with the passages the bucket already holds, what ``links._sharing``
    compares with the cap."""
    bucket = bucket_codes(rows)
    starts = np.flatnonzero(np.diff(bucket, prepend=-1))
    return np.asarray(np.arange(len(rows)) - starts[bucket])


def by_band(rows: npt.NDArray[np.int64]) -> list[tuple[int, npt.NDArray[np.int64]]]:
    """(band, its rows) of ``rows`` whose first column is the band, sorted by band: one part for
    each band, in order."""
    if not len(rows):
        return []
    cuts = np.flatnonzero(rows[1:, 0] != rows[:-1, 0]) + 1
    return [(int(part[0, 0]), part) for part in np.split(rows, cuts)]


def ranges(low: npt.NDArray[np.intp], count: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """The positions low[i] … low[i] + count[i] - 1 of every i, in order: the rows of sorted
    arrays that ``np.searchsorted``'s left and right ends bracket."""
    within = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    return np.repeat(low, count) + within
