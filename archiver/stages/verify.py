"""Verifying candidate pairs: which become links, and the aligned regions of each.

The index finds candidates in the database (``index.links``); judging them is pure, and the
costliest part of indexing (an alignment per anchored pair), so it runs as tasks on the run's
workers. ``tasks`` cuts a batch's candidates into tasks, each holding every candidate of its
new passages (a passage's links are capped over all of its candidates); ``verify`` judges one
task; ``merged`` puts the results back in the order one task of the whole batch gives, so
the rows written are the same however the batch was cut and wherever the tasks ran.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from archiver.config import FingerprintConfig, MatchConfig
from archiver.stages import align
from archiver.stages import fingerprint as fp
from archiver.stages._memo import LruMemo

Pair = tuple[int, int]  # (new representative, earlier representative)
# passage, other, start, end, other's start, other's end, matched, longest (``SpanPack``)
Span = tuple[int, int, int, int, int, int, int, int]
# Aligns texts[ia[k]] with texts[ib[k]] for every k (texts all different): ``align.align_columns``.
AlignAll = Callable[[Sequence[str], align.I64, align.I64], align.Columns]
TASK_PAIRS = 1000  # candidate pairs per task: sending the texts costs little; align's arrays grow with it
# Earlier passages' normalised texts a process remembers (``earlier_texts``), about 1 KB each.
EARLIER_KEPT = 16_384


@dataclass(frozen=True)
class Candidates:
    """The candidates of some new passages: band candidates (verified by shingle Jaccard) and
    anchored ones (aligned), with the submission and text of every passage in them."""

    pairs: tuple[Pair, ...]
    anchored: tuple[Pair, ...]
    texts: Mapping[int, tuple[int, str]]  # passage id → (submission id, normalised text)
    # The archived passages whose texts the task reads itself (``index.links.with_stored`` adds
    # them to ``texts``, normalised, where it runs): the coordinator sends their ids, not their texts.
    earlier: tuple[int, ...] = ()


@dataclass(frozen=True)
class Verified:
    links: tuple[tuple[int, int, float], ...]  # (passage, other, Jaccard): band links, then anchored
    band_links: int  # how many of ``links`` are band links
    spans: tuple[Span, ...]


def tasks(
    pairs: Sequence[Pair],
    anchored: Sequence[Pair],
    texts: Mapping[int, tuple[int, str]],
    size: int = TASK_PAIRS,
) -> list[Candidates]:
    """The candidates cut into tasks of about ``size`` pairs, by new passage, in id order.
    ``texts`` are the new passages', normalised; a passage not in them is one of a task's
    ``earlier``, read where the task runs."""
    by_new: dict[int, tuple[list[Pair], list[Pair]]] = {}
    for found, which in ((pairs, 0), (anchored, 1)):
        for pair in found:
            by_new.setdefault(pair[0], ([], []))[which].append(pair)
    out: list[Candidates] = []
    current: tuple[list[Pair], list[Pair]] = ([], [])
    for new in sorted(by_new):
        for mine, theirs in zip(current, by_new[new], strict=True):
            mine.extend(theirs)
        if len(current[0]) + len(current[1]) >= size:
            out.append(_task(current, texts))
            current = ([], [])
    if current[0] or current[1]:
        out.append(_task(current, texts))
    return out


def _task(
    found: tuple[list[Pair], list[Pair]],
    texts: Mapping[int, tuple[int, str]],
) -> Candidates:
    pairs, anchored = found
    ids = sorted({pid for pair in (*pairs, *anchored) for pid in pair})
    return Candidates(
        tuple(pairs),
        tuple(anchored),
        {pid: texts[pid] for pid in ids if pid in texts},
        tuple(pid for pid in ids if pid not in texts),
    )


def verify(
    task: Candidates,
    config: FingerprintConfig,
    match: MatchConfig,
    align_all: AlignAll = align.align_columns,
) -> Verified:
    """The links of ``task``'s candidates whose exact shingle Jaccard reaches ``match_at`` (the
    band candidates, and anchored ones aligned over most of both), and the aligned regions
    (``align.align``'s) of every pair linked or anchored: a copied sentence is a region of a pair
    far below ``match_at``. ``align_all`` aligns pairs of texts: ``align.align_columns``, all of
    the task's at once. Its ``earlier`` passages' texts must have been read into ``texts``
    (``index.links.with_stored``)."""
    texts = task.texts
    # The candidates' shingle sets, hashed in bulk: most passages are in several pairs.
    involved = sorted({pid for pair in task.pairs for pid in pair})
    shingles = dict(zip(involved, fp.shingle_sets([texts[pid][1] for pid in involved], config), strict=True))

    links: list[tuple[int, int, float]] = []
    scores: dict[Pair, float] = {}
    for a, b in task.pairs:
        if texts[a][0] == texts[b][0]:
            continue  # same submission: judged by match.find_repeats
        scores[a, b] = score = fp.jaccard(shingles[a], shingles[b])
        if score >= match.match_at:
            links.append((a, b, score))
    band_links = len(links)
    linked = {(a, b) for a, b, _ in links}
    per_passage = Counter(a for a, _ in linked)  # links stay within max_candidates per passage
    # No anchor shared: no long run in common. A band match short of match_at is not aligned.
    (first, second), (ia, ib), is_linked, distinct = _to_align(linked, task.anchored, texts)
    found = align_all(distinct, ia, ib)
    owner, *fields = found
    lengths = np.fromiter(map(len, distinct), dtype=np.int64, count=len(distinct))
    # The pairs with regions (most anchored pairs have none), and which copy a whole paragraph.
    some, whole = align.whole_paragraphs(found, lengths[ia], lengths[ib])
    dropped = []
    for k in some[whole & ~is_linked[some]].tolist():
        # A copy of the whole paragraph is reuse when it passes match_at, as a paragraph
        # match always was (one the bands missed is linked here); below it the copy was
        # rewritten beyond what counts as one.
        a, b = int(first[k]), int(second[k])
        if (a, b) not in scores:
            scores[a, b] = fp.jaccard(*fp.shingle_sets([texts[a][1], texts[b][1]], config))
        if scores[a, b] < match.match_at:
            dropped.append(k)
            continue
        if per_passage[a] < match.max_candidates:
            per_passage[a] += 1
            links.append((a, b, scores[a, b]))
    kept = np.isin(owner, dropped, invert=True) if dropped else slice(None)
    columns = (first[owner[kept]], second[owner[kept]], *(field[kept] for field in fields))
    spans: list[Span] = list(zip(*(column.tolist() for column in columns), strict=True))
    return Verified(tuple(links), band_links, tuple(spans))


def _to_align(
    linked: set[Pair], anchored: Sequence[Pair], texts: Mapping[int, tuple[int, str]]
) -> tuple[tuple[align.I64, align.I64], tuple[align.I64, align.I64], npt.NDArray[np.bool_], list[str]]:
    """The pairs to align (two columns of passage ids), in id order: the linked ones and the
    anchored ones of two submissions; each one's two texts as indices of the distinct texts
    (equal texts are one, as ``align.align_columns`` wants them); which of them are linked; and
    those texts."""
    ids = np.array(sorted(texts), dtype=np.int64)
    distinct: dict[str, int] = {}
    values = [texts[pid] for pid in ids.tolist()]
    text_at = np.fromiter(
        [distinct.setdefault(text, len(distinct)) for _, text in values], np.int64, len(values)
    )
    submission = np.fromiter([sub for sub, _ in values], np.int64, len(values))
    # Pairs as positions in ``ids``, which sort as the ids do.
    found = np.searchsorted(ids, int_rows(anchored, 2))
    other = submission[found[:, 0]] != submission[found[:, 1]]
    mine = np.searchsorted(ids, int_rows(linked, 2))
    both = np.r_[mine, found[other]]
    is_linked = np.arange(len(both)) < len(mine)
    # Sorted by first, then second: one integer key, a stable sort.
    key = both[:, 0] * len(ids) + both[:, 1]
    order = np.argsort(key, kind="stable")
    both, is_linked, key = both[order], is_linked[order], key[order]
    if len(both):
        # A pair linked and anchored too is one pair, linked.
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        both, is_linked = both[starts], np.logical_or.reduceat(is_linked, starts)
    first, second = both[:, 0], both[:, 1]
    return (ids[first], ids[second]), (text_at[first], text_at[second]), is_linked, list(distinct)


def int_rows(rows: Collection[Sequence[int]], width: int) -> npt.NDArray[np.int64]:
    """``rows`` (each ``width`` integers) as an ``(n, width)`` array: flattened into numpy's
    iterator, not converted tuple by tuple as ``np.array`` of the list does."""
    flat = np.fromiter(itertools.chain.from_iterable(rows), np.int64, width * len(rows))
    return flat.reshape(-1, width)


# The earlier passages' normalised texts this process read lately, by passage id: a passage is a
# candidate in many tasks of a run, read and normalised once. Valid for one writing session only
# (``_earlier_run``): a Dask worker outlives a run, and SQLite may give a deleted row's id to a
# new passage.
_earlier: LruMemo[int, tuple[int, str]] = LruMemo(EARLIER_KEPT)
_earlier_run = ""
_earlier_lock = threading.Lock()  # a Dask worker may run tasks in threads
earlier_counts = {"kept": 0, "read": 0}  # texts found remembered, and read


def earlier_texts(
    run: str, ids: Sequence[int], read: Callable[[Sequence[int]], Mapping[int, tuple[int, str]]]
) -> dict[int, tuple[int, str]]:
    """(submission id, normalised text) of the archived passages ``ids`` for a task of the writing
    session ``run``: those this process remembers for it, and the others ``read`` (submission id,
    text as stored), normalised and remembered."""
    global _earlier, _earlier_run
    with _earlier_lock:
        if run != _earlier_run:
            _earlier = LruMemo(EARLIER_KEPT)
            _earlier_run = run
        found = _earlier.found(ids)
    stored = read([pid for pid in ids if pid not in found])
    # A text this process fingerprinted lately is normalised already: its string is shared.
    normalised = fp.normalise_remembered([text for _, text in stored.values()])
    fresh = {pid: (sub, norm) for (pid, (sub, _)), norm in zip(stored.items(), normalised, strict=True)}
    with _earlier_lock:
        earlier_counts["kept"] += len(found)
        earlier_counts["read"] += len(fresh)
        if run == _earlier_run:  # another session's task may have run here meanwhile
            _earlier.remember(fresh)
    return found | fresh


def merged(results: Iterable[Verified]) -> tuple[list[tuple[int, int, float]], list[Span]]:
    """The links (every task's band links in order, then every task's anchored ones) and spans
    of ``results``, as one task of all the candidates would give them."""
    results = list(results)
    band = [link for r in results for link in r.links[: r.band_links]]
    anchored = [link for r in results for link in r.links[r.band_links :]]
    return band + anchored, [span for r in results for span in r.spans]
